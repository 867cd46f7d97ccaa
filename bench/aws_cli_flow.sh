#!/bin/bash
# The classic per-user rotation as a shell loop over the AWS CLI (Debian's
# /usr/bin/aws): create a key, put it in Secrets Manager, publish to SNS; one
# user after the other. The cost baseline of bench/fleet_bench.cc.
#
#   bench/aws_cli_flow.sh ENDPOINT_URL TOPIC_ARN PREFIX USERS [ACCOUNT]
#
# Credentials and region come from the environment only. The new secret never
# reaches a command line: it stays in a shell variable and goes to the CLI on
# stdin (file:///dev/stdin); nothing here prints it. The last line of output
# is {"users": N, "rotated": N, "failed": N}.
set -u

endpoint=$1
topic=$2
prefix=$3
users=$4
account=${5:-123456789012}
aws=${AWS_CLI:-/usr/bin/aws}

rotated=0
failed=0
for ((i = 0; i < users; i++)); do
  printf -v user '%s%04d' "$prefix" "$i"
  # A JMESPath multiselect hash reshapes the answer into the secret's document.
  if ! value=$("$aws" --endpoint-url "$endpoint" --output json iam create-access-key --user-name "$user" \
      --query '{AccessKey: AccessKey.AccessKeyId, SecretKey: AccessKey.SecretAccessKey}'); then
    failed=$((failed + 1))
    continue
  fi
  if [[ ! $value =~ \"AccessKey\":\ *\"([A-Z0-9]+)\" ]]; then
    failed=$((failed + 1))
    continue
  fi
  key_id=${BASH_REMATCH[1]}
  if ! printf '%s' "$value" | "$aws" --endpoint-url "$endpoint" --output text secretsmanager create-secret \
      --name "Account_${account}_User_${user}_AccessKey" --secret-string file:///dev/stdin --query ARN >/dev/null; then
    failed=$((failed + 1))
    continue
  fi
  value=
  if ! "$aws" --endpoint-url "$endpoint" --output text sns publish --topic-arn "$topic" \
      --subject "access key rotated" \
      --message "{\"event\": \"key_created\", \"user\": \"$user\", \"new_access_key_id\": \"$key_id\"}" \
      --query MessageId >/dev/null; then
    failed=$((failed + 1))
    continue
  fi
  rotated=$((rotated + 1))
done
printf '{"users": %d, "rotated": %d, "failed": %d}\n' "$users" "$rotated" "$failed"
[ "$failed" -eq 0 ]
