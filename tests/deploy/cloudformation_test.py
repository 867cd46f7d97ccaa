"""deploy/cloudformation: the template parses with a plain YAML parser, deploys the custom
runtime the way Lambda runs it, schedules it, and grants exactly what `keyrotor policy`
prints for the bundled keyrotor.toml (plus the function's own logs).

Run: /usr/bin/python3 -E -s -B tests/deploy/cloudformation_test.py build/keyrotor [build/keyrotor-lambda.zip]
"""

import fnmatch
import json
import os
import stat
import sys
import tempfile
import tomllib
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_common import (DEPLOY_DIR, binary_from_argv, check, check_equal, config_check, finish,  # noqa: E402
                           help_flags, require_debian_module, run)

BINARY = binary_from_argv(sys.argv)
yaml = require_debian_module("yaml", "python3-yaml")
CFN_DIR = os.path.join(DEPLOY_DIR, "cloudformation")

# yaml.safe_load refuses the short-form tags (!Ref, !Sub): parsing at all proves the long form.
with open(os.path.join(CFN_DIR, "keyrotor.yaml")) as f:
    template = yaml.safe_load(f)
check_equal(template.get("AWSTemplateFormatVersion"), "2010-09-09", "AWSTemplateFormatVersion")
resources = template.get("Resources", {})
parameters = template.get("Parameters", {})


def of_type(kind):
    found = {name: r for name, r in resources.items() if r.get("Type") == kind}
    check_equal(len(found), 1, "number of %s resources" % kind)
    return next(iter(found.items())) if found else ("", {})


def is_ref(value, name):
    return value == {"Ref": name}


def is_getatt(value, name, attribute):
    return value in ({"Fn::GetAtt": [name, attribute]}, {"Fn::GetAtt": name + "." + attribute})


def parameter_default(value):
    """A literal, or the default of the parameter it Refs."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]].get("Default")
    return value


# Every Ref and GetAtt names a parameter, a resource or a pseudo parameter.
def walk(node, where):
    if isinstance(node, dict):
        if "Ref" in node:
            target = node["Ref"]
            check(target in parameters or target in resources or target.startswith("AWS::"),
                  "%s: Ref to unknown %r" % (where, target))
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            target = target[0] if isinstance(target, list) else target.split(".")[0]
            check(target in resources, "%s: Fn::GetAtt of unknown %r" % (where, target))
        for key, value in node.items():
            walk(value, where + "." + str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, "%s[%d]" % (where, i))


walk(resources, "Resources")
walk(template.get("Outputs", {}), "Outputs")
for name, p in parameters.items():
    check(p.get("Type") in ("String", "Number"), "parameter %s: type %r" % (name, p.get("Type")))

# The function: the custom runtime, code from the bucket/key parameters.
fn_name, fn = of_type("AWS::Lambda::Function")
props = fn.get("Properties", {})
check_equal(props.get("Runtime"), "provided.al2023", "Runtime")
check_equal(props.get("Handler"), "bootstrap", "Handler")
check_equal(props.get("Architectures", ["x86_64"]), ["x86_64"], "Architectures (the binary is built for x86_64)")
code = props.get("Code", {})
check(isinstance(code.get("S3Bucket"), dict) and code["S3Bucket"].get("Ref") in parameters, "Code.S3Bucket parameter")
check(isinstance(code.get("S3Key"), dict) and code["S3Key"].get("Ref") in parameters, "Code.S3Key parameter")
check(props.get("Timeout", 3) <= 900, "Timeout above Lambda's 900 s")
role_name, role = of_type("AWS::IAM::Role")
check(is_getatt(props.get("Role"), role_name, "Arn"), "the function's Role is not the template's role")
env = props.get("Environment", {}).get("Variables", {})
check_equal(parameter_default(env.get("KEYROTOR_CONFIG")), "/var/task/keyrotor.toml",
            "KEYROTOR_CONFIG ($LAMBDA_TASK_ROOT/keyrotor.toml)")
state = parameter_default(env.get("KEYROTOR_STATE"))
check(isinstance(state, str) and (state.startswith("/tmp/") or state.startswith("postgresql://")),
      "KEYROTOR_STATE %r: Lambda can write only /tmp (or use postgresql://)" % state)

# Two rules: the schedule, and AWS Health's exposed-key events; each with the
# permission letting EventBridge invoke the function from that rule alone.
rules = {name: r for name, r in resources.items() if r.get("Type") == "AWS::Events::Rule"}
check_equal(len(rules), 2, "number of AWS::Events::Rule resources (schedule, exposure)")
schedule_rules = [n for n, r in rules.items() if "ScheduleExpression" in r.get("Properties", {})]
pattern_rules = [n for n, r in rules.items() if "EventPattern" in r.get("Properties", {})]
check_equal(len(schedule_rules), 1, "rules with a ScheduleExpression")
check_equal(len(pattern_rules), 1, "rules with an EventPattern")
rule_name = schedule_rules[0] if schedule_rules else ""
rule = rules.get(rule_name, {})
rule_props = rule.get("Properties", {})
schedule = parameter_default(rule_props.get("ScheduleExpression", ""))
check(isinstance(schedule, str) and schedule.startswith(("cron(", "rate(")), "ScheduleExpression %r" % schedule)
check_equal(rule_props.get("State"), "ENABLED", "rule State")
targets = rule_props.get("Targets", [])
check(any(is_getatt(t.get("Arn"), fn_name, "Arn") for t in targets), "the rule does not target the function")
check(all(t.get("Input") is None and t.get("InputTransformer") is None for t in targets),
      "the rule must send the scheduled event itself (source aws.events), not a rewritten input")
exposure_name = pattern_rules[0] if pattern_rules else ""
exposure = rules.get(exposure_name, {}).get("Properties", {})
pattern = exposure.get("EventPattern", {})
check_equal(pattern.get("source"), ["aws.health"], "exposure rule: source")
check_equal(pattern.get("detail-type"), ["AWS Health Event"], "exposure rule: detail-type")
check_equal(pattern.get("detail", {}).get("service"), ["RISK"], "exposure rule: detail.service")
check_equal(sorted(pattern.get("detail", {}).get("eventTypeCode", [])),
            sorted(["AWS_RISK_CREDENTIALS_EXPOSED", "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
                    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED", "AWS_RISK_IAM_QUARANTINE"]),
            "exposure rule: the event types keyrotor respond accepts")
check_equal(exposure.get("State"), "ENABLED", "exposure rule State")
check(any(is_getatt(t.get("Arn"), fn_name, "Arn") and t.get("Input") is None and t.get("InputTransformer") is None
          for t in exposure.get("Targets", [])),
      "the exposure rule must send the Health event itself to the function")
perms = {name: r for name, r in resources.items() if r.get("Type") == "AWS::Lambda::Permission"}
check_equal(len(perms), 2, "number of AWS::Lambda::Permission resources (one per rule)")
for name in (rule_name, exposure_name):
    matching = [p.get("Properties", {}) for p in perms.values()
                if is_getatt(p.get("Properties", {}).get("SourceArn"), name, "Arn")]
    check_equal(len(matching), 1, "permissions limited to rule %s" % name)
    for perm_props in matching:
        check_equal(perm_props.get("Action"), "lambda:InvokeFunction", "permission Action")
        check_equal(perm_props.get("Principal"), "events.amazonaws.com", "permission Principal")
        check(is_ref(perm_props.get("FunctionName"), fn_name) or
              is_getatt(perm_props.get("FunctionName"), fn_name, "Arn"),
              "the permission is not for the function")

# The topic.
topic_name, topic = of_type("AWS::SNS::Topic")
topic_name_value = parameter_default(topic.get("Properties", {}).get("TopicName"))
check(isinstance(topic_name_value, str) and topic_name_value, "the topic has no fixed TopicName")

# The bundled config: valid, and naming the template's topic.
with open(os.path.join(CFN_DIR, "keyrotor.toml")) as f:
    toml_text = f.read()
config = tomllib.loads(toml_text)
summary = config_check(BINARY, toml_text, "deploy/cloudformation/keyrotor.toml", env={"KEYROTOR_STATE": state})
check(state in summary, "config check does not use KEYROTOR_STATE %s:\n%s" % (state, summary))
check("state" not in config, "the bundled config sets state: the function's KEYROTOR_STATE would not apply")
to, notify, kms = [], [], []
for table in [config.get("policy", {})] + config.get("selection", []):
    for key, into in (("to", to), ("notify", notify)):
        items = table.get(key, [])
        for item in [items] if isinstance(items, str) else items:
            if item not in into:
                into.append(item)
    if table.get("kms_key_id"):
        kms.append(table["kms_key_id"])
roles = [a["role_arn"] for a in config.get("accounts", []) if a.get("role_arn")]
topic_arns = [n[len("sns:"):] for n in notify if n.startswith("sns:")]
check_equal(len(topic_arns), 1, "sns notifiers in the bundled config")
topic_arn = topic_arns[0] if topic_arns else "arn:aws:sns:r:a:x"
check_equal(topic_arn.split(":")[-1], topic_name_value, "the config's topic vs the template's TopicName")

# The role: Lambda may assume it; it allows the function's logs plus exactly keyrotor's policy.
trust = role.get("Properties", {}).get("AssumeRolePolicyDocument", {}).get("Statement", [])
check_equal([(s.get("Effect"), s.get("Principal"), s.get("Action")) for s in trust],
            [("Allow", {"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")], "role trust policy")
check(not role.get("Properties", {}).get("ManagedPolicyArns"), "managed policies would grant beyond keyrotor policy")
statements = [s for p in role.get("Properties", {}).get("Policies", [])
              for s in p.get("PolicyDocument", {}).get("Statement", [])]


def as_list(value):
    return value if isinstance(value, list) else [value]


def resolve(value):
    if is_ref(value, topic_name):
        return topic_arn
    return value


granted, logs = {}, []
for s in statements:
    check_equal(s.get("Effect"), "Allow", "statement %s Effect" % s.get("Sid"))
    actions = as_list(s.get("Action", []))
    if all(a.startswith("logs:") for a in actions):
        logs.append(s)
        continue
    granted[s.get("Sid")] = (sorted(actions), sorted(json.dumps(resolve(r)) for r in as_list(s.get("Resource"))),
                             s.get("Condition"))

args = ["policy"] + [x for t in to for x in ("--to", t)] + [x for n in notify for x in ("--notify", n)]
args += [x for r in roles for x in ("--assume-role", r)] + [x for k in kms[:1] for x in ("--kms-key-id", k)]
printed = run(BINARY, args)
check(printed.returncode == 0, "keyrotor %s exited %d: %s" % (" ".join(args), printed.returncode, printed.stderr))
expected = {}
for s in json.loads(printed.stdout or '{"Statement": []}').get("Statement", []):
    expected[s.get("Sid")] = (sorted(as_list(s["Action"])), sorted(json.dumps(r) for r in as_list(s["Resource"])),
                              s.get("Condition"))
check(bool(expected), "keyrotor policy printed no statement")
# Where `policy` reads a fleet config itself, it must agree with the flags taken from that config.
if "--config" in help_flags(BINARY, ["policy"]):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "keyrotor.toml")
        with open(path, "w") as f:
            f.write(toml_text)
        from_config = run(BINARY, ["policy", "--config", path])
    check(from_config.returncode == 0, "keyrotor policy --config exited %d: %s"
          % (from_config.returncode, from_config.stderr))
    check_equal(json.loads(from_config.stdout or "{}"), json.loads(printed.stdout or "{}"),
                "keyrotor policy --config vs keyrotor policy with the config's --to/--notify")
check_equal(set(granted), set(expected), "statement ids vs keyrotor policy")
for sid in expected:
    if sid in granted:
        check_equal(granted[sid], expected[sid], "statement %s (actions, resources, condition) vs keyrotor policy" % sid)
all_granted = {a for v in granted.values() for a in v[0]}
all_expected = {a for v in expected.values() for a in v[0]}
check_equal(all_granted, all_expected, "the role's IAM/Secrets Manager/SNS/STS actions vs keyrotor policy")

# Logs: only writing to the function's own log group.
log_group_name, log_group = of_type("AWS::Logs::LogGroup")
check(bool(logs), "no CloudWatch Logs statement")
for s in logs:
    check_equal(sorted(as_list(s.get("Action"))), ["logs:CreateLogStream", "logs:PutLogEvents"], "logs actions")
    check(all(is_getatt(r, log_group_name, "Arn") for r in as_list(s.get("Resource"))),
          "logs statement not limited to the function's log group")
check(isinstance(log_group.get("Properties", {}).get("LogGroupName"), dict)
      and "Fn::Sub" in log_group["Properties"]["LogGroupName"]
      and "/aws/lambda/${FunctionName}" == log_group["Properties"]["LogGroupName"]["Fn::Sub"],
      "the log group is not /aws/lambda/<function name>")

# The classic events' secret name (KEYROTOR_SECRET_NAME) is within the granted secrets.
secret_name = env.get("KEYROTOR_SECRET_NAME", "{user}")
secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-AbCdEf" % secret_name.replace("{user}", "alice")
sm = expected.get("KeyrotorSecretsManager", ([], [], None))[1]
check(any(fnmatch.fnmatchcase(secret_arn, json.loads(r)) for r in sm),
      "KEYROTOR_SECRET_NAME %r is outside the granted secrets %s" % (secret_name, sm))
check(is_ref(env.get("KEYROTOR_SNS_TOPIC"), topic_name), "KEYROTOR_SNS_TOPIC is not the template's topic")

# The deployment package the template deploys, when the build made it: `bootstrap`, executable.
if len(sys.argv) > 2:
    with zipfile.ZipFile(sys.argv[2]) as z:
        info = {i.filename: i for i in z.infolist()}
        check("bootstrap" in info, "%s has no bootstrap" % sys.argv[2])
        if "bootstrap" in info:
            mode = info["bootstrap"].external_attr >> 16
            check(mode & stat.S_IXUSR and mode & stat.S_IXOTH, "bootstrap in the zip is not executable (%o)" % mode)

finish("deploy.cloudformation")
