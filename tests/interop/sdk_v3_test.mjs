// AWS SDK for JavaScript v3 (npm @aws-sdk/client-*, pinned by package-lock.json)
// against `keyrotor sandbox`.
//
// Run: node tests/interop/sdk_v3_test.mjs build/keyrotor
// (after `npm ci` in tests/interop, which scripts/install-deps does).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REGION = 'eu-west-1'; // not us-east-1 on purpose, as in sandbox_fixture.py
const ACCOUNT = '123456789012';
const BULK_USERS = 120;
const BULK_PATH = '/interop/bulk/';
const here = path.dirname(fileURLToPath(import.meta.url));

// Everything this script prints, for the leak scan at the end.
const printed = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    printed.push(String(chunk));
    return write(chunk, ...rest);
  };
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const binary = process.argv[2];
if (!binary || !fs.existsSync(binary)) fail(`usage: node sdk_v3_test.mjs KEYROTOR_BINARY (got ${binary})`);

// Missing prerequisites fail the test rather than skip it: install-deps provides them.
const sdk = {};
for (const [name, pkg] of [['iam', '@aws-sdk/client-iam'], ['sts', '@aws-sdk/client-sts'],
  ['sm', '@aws-sdk/client-secrets-manager'], ['ssm', '@aws-sdk/client-ssm'], ['sns', '@aws-sdk/client-sns']]) {
  try {
    sdk[name] = await import(pkg);
  } catch (error) {
    fail(`cannot load ${pkg} from ${path.join(here, 'node_modules')} (${error.code ?? error.message}): ` +
         'run scripts/install-deps (it runs `npm ci` in tests/interop)');
  }
}
const installed = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@aws-sdk/client-iam/package.json')));
console.log(`# client: @aws-sdk/client-iam ${installed.version} on node ${process.version}`);

// A private HOME and config; nothing of the caller's AWS setup leaks in (the
// SDK reads AWS_ENDPOINT_URL*, AWS_PROFILE, keys, ... from the environment).
const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyrotor-interop-sdk-v3-'));
const credentialsFile = path.join(workdir, 'sandbox-credentials');
for (const name of Object.keys(process.env)) {
  if (name.startsWith('AWS_') || name.toLowerCase().endsWith('_proxy')) delete process.env[name];
}
fs.mkdirSync(path.join(workdir, 'home'));
fs.writeFileSync(path.join(workdir, 'config'), `[default]\nregion = ${REGION}\n`);
Object.assign(process.env, {
  HOME: path.join(workdir, 'home'),
  AWS_CONFIG_FILE: path.join(workdir, 'config'),
  AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
  AWS_EC2_METADATA_DISABLED: 'true',
});

// Every secret learnt; access keys must appear neither in the sandbox's output
// nor in ours, made-up secret values not in the sandbox's.
const secrets = new Map(); // value -> {origin, ownOutputToo}
const remember = (value, origin, ownOutputToo = true) => value && secrets.set(value, { origin, ownOutputToo });

const sandbox = { out: '', err: '', url: null, exited: null };

function startSandbox() {
  const child = spawn(binary, ['sandbox', '--listen', '127.0.0.1:0', '--write-credentials', credentialsFile],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
  sandbox.child = child;
  child.stdout.on('data', (d) => { sandbox.out += d; });
  child.stderr.on('data', (d) => { sandbox.err += d; });
  sandbox.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sandbox not ready within 15s')), 15000);
    const poll = setInterval(() => {
      const m = /keyrotor sandbox listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(sandbox.out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        sandbox.url = m[1];
        resolve();
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`sandbox exited with ${code} before it was ready: ${sandbox.err}`));
    });
  });
}

function readAdminKey() {
  const text = fs.readFileSync(credentialsFile, 'utf8');
  const section = /\[default\]([^[]*)/.exec(text)?.[1] ?? '';
  const id = /aws_access_key_id\s*=\s*(\S+)/.exec(section)?.[1];
  const secret = /aws_secret_access_key\s*=\s*(\S+)/.exec(section)?.[1];
  assert.ok(id && secret, 'profile [default] with a key in the sandbox credentials file');
  assert.equal(fs.statSync(credentialsFile).mode & 0o777, 0o600, 'credentials file mode');
  return { accessKeyId: id, secretAccessKey: secret };
}

// credentials omitted = the SDK's default chain, i.e. the sandbox's credentials file.
function client(Ctor, credentials) {
  return new Ctor({ endpoint: sandbox.url, region: REGION, maxAttempts: 1, ...(credentials ? { credentials } : {}) });
}

async function expectError(promise, code, status) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${code}, the call succeeded`);
  // Query protocol: `name` is the modeled shape (LimitExceeded -> LimitExceededException,
  // per the awsQueryError trait) and `Code` the code on the wire; JSON protocol: `name`.
  assert.equal(error.Code ?? error.name, code, `error code (name ${error.name}, message: ${error.message})`);
  if (status !== undefined) assert.equal(error.$metadata?.httpStatusCode, status, `HTTP status for ${code}`);
  return error;
}

const userArn = (p, name) => `arn:aws:iam::${ACCOUNT}:user${p}${name}`;
let admin;
let adminUser; // the only user before the bulk ones
let iam;

test('sandbox starts and the admin profile works', async () => {
  await startSandbox();
  admin = readAdminKey();
  remember(admin.secretAccessKey, 'admin secret from the credentials file');
  console.log(`# sdk-v3 interop against ${sandbox.url} (workdir ${workdir})`);
  iam = client(sdk.iam.IAMClient);
  const me = await client(sdk.sts.STSClient).send(new sdk.sts.GetCallerIdentityCommand({}));
  assert.equal(me.Account, ACCOUNT);
  assert.ok(me.Arn.startsWith(`arn:aws:iam::${ACCOUNT}:user/`), me.Arn);
  adminUser = me.Arn.split('/').at(-1);
});

const bulkNames = Array.from({ length: BULK_USERS }, (_, i) => `interop-bulk-${String(i).padStart(3, '0')}`);

test(`create ${BULK_USERS} users, list them through pagination`, async () => {
  for (const name of bulkNames) {
    const { User } = await iam.send(new sdk.iam.CreateUserCommand({ UserName: name, Path: BULK_PATH }));
    assert.equal(User.Arn, userArn(BULK_PATH, name));
    assert.ok(User.CreateDate instanceof Date, 'CreateDate parses as a Date');
  }
  const list = async (config, input) => {
    const pages = [];
    for await (const page of sdk.iam.paginateListUsers({ client: iam, ...config }, input)) pages.push(page);
    return pages;
  };
  const everyone = (await list({}, {})).flatMap((p) => p.Users.map((u) => u.UserName));
  assert.equal(new Set(everyone).size, everyone.length, 'no duplicates');
  assert.deepEqual([...everyone].sort(), [...bulkNames, adminUser].sort(), 'paginated ListUsers (bulk users + admin)');

  const pages = await list({}, { PathPrefix: BULK_PATH });
  assert.deepEqual(pages.map((p) => p.Users.length), [100, 20], "page sizes with IAM's default MaxItems (100)");
  const inOrder = pages.flatMap((p) => p.Users.map((u) => u.UserName));
  assert.deepEqual([...inOrder].sort(), [...bulkNames].sort());

  const small = await list({ pageSize: 7 }, { PathPrefix: BULK_PATH });
  assert.equal(small.length, 18, 'pages of 7');
  assert.deepEqual(small.flatMap((p) => p.Users.map((u) => u.UserName)), inOrder, 'users in pages of 7');
  assert.equal(small.at(-1).IsTruncated, false);

  // Resume from a Marker with the paginator's startingToken.
  const first = await iam.send(new sdk.iam.ListUsersCommand({ PathPrefix: BULK_PATH, MaxItems: 50 }));
  assert.ok(first.IsTruncated && first.Marker, 'MaxItems 50 is truncated with a Marker');
  const rest = await list({ startingToken: first.Marker }, { PathPrefix: BULK_PATH });
  assert.deepEqual([...first.Users, ...rest.flatMap((p) => p.Users)].map((u) => u.UserName), inOrder,
    'MaxItems + startingToken');
});

test('access key lifecycle, new key works, LimitExceeded', async () => {
  const p = '/interop/';
  const name = 'interop-sdk-v3-keys';
  const { User: user } = await iam.send(new sdk.iam.CreateUserCommand({ UserName: name, Path: p }));
  const { AccessKey: created } = await iam.send(new sdk.iam.CreateAccessKeyCommand({ UserName: name }));
  const key = { accessKeyId: created.AccessKeyId, secretAccessKey: created.SecretAccessKey };
  remember(key.secretAccessKey, `SecretAccessKey of ${name}'s first key`);
  assert.equal(created.Status, 'Active');
  assert.ok(/^AKIA[A-Z2-7]{16}$/.test(key.accessKeyId), `AccessKeyId shape: ${key.accessKeyId}`);
  assert.ok(/^[A-Za-z0-9+/]{40}$/.test(key.secretAccessKey), 'SecretAccessKey is 40 chars of [A-Za-z0-9+/]');

  const lastUsed = (id) => iam.send(new sdk.iam.GetAccessKeyLastUsedCommand({ AccessKeyId: id }));
  const never = await lastUsed(key.accessKeyId);
  assert.equal(never.UserName, name);
  assert.equal(never.AccessKeyLastUsed.ServiceName, 'N/A');
  assert.equal(never.AccessKeyLastUsed.LastUsedDate, undefined, 'never-used key has no LastUsedDate');

  const keys = async () => (await iam.send(new sdk.iam.ListAccessKeysCommand({ UserName: name })))
    .AccessKeyMetadata.map((k) => [k.AccessKeyId, k.Status]);
  assert.deepEqual(await keys(), [[key.accessKeyId, 'Active']]);

  const me = await client(sdk.sts.STSClient, key).send(new sdk.sts.GetCallerIdentityCommand({}));
  assert.deepEqual([me.Arn, me.UserId], [user.Arn, user.UserId], 'GetCallerIdentity with the new key');
  assert.equal(user.Arn, userArn(p, name));

  const used = (await lastUsed(key.accessKeyId)).AccessKeyLastUsed;
  assert.deepEqual([used.ServiceName, used.Region], ['sts', REGION]);
  assert.ok(used.LastUsedDate instanceof Date && Math.abs(Date.now() - used.LastUsedDate) < 300000,
    `LastUsedDate is recent: ${used.LastUsedDate}`);

  // A CreateUser-made user manages its own keys but nothing else.
  const own = client(sdk.iam.IAMClient, key);
  assert.deepEqual((await own.send(new sdk.iam.ListAccessKeysCommand({}))).AccessKeyMetadata.map((k) => k.AccessKeyId),
    [key.accessKeyId], 'the user lists its own keys');
  await expectError(own.send(new sdk.iam.ListUsersCommand({})), 'AccessDenied', 403);

  await iam.send(new sdk.iam.UpdateAccessKeyCommand({ UserName: name, AccessKeyId: key.accessKeyId, Status: 'Inactive' }));
  assert.deepEqual(await keys(), [[key.accessKeyId, 'Inactive']]);
  await iam.send(new sdk.iam.DeleteAccessKeyCommand({ UserName: name, AccessKeyId: key.accessKeyId }));
  assert.deepEqual(await keys(), []);
  await expectError(client(sdk.sts.STSClient, key).send(new sdk.sts.GetCallerIdentityCommand({})),
    'InvalidClientTokenId', 403);

  for (const n of [2, 3]) {
    const { AccessKey } = await iam.send(new sdk.iam.CreateAccessKeyCommand({ UserName: name }));
    remember(AccessKey.SecretAccessKey, `SecretAccessKey of ${name}'s key #${n}`);
  }
  const limit = await expectError(iam.send(new sdk.iam.CreateAccessKeyCommand({ UserName: name })), 'LimitExceeded', 409);
  assert.ok(limit instanceof sdk.iam.LimitExceededException, 'the modeled LimitExceededException class');
  await expectError(iam.send(new sdk.iam.DeleteAccessKeyCommand({ UserName: name, AccessKeyId: 'AKIAAAAAAAAAAAAAAAAA' })),
    'NoSuchEntity', 404);
});

test('Secrets Manager versions and staging labels', async () => {
  const sm = client(sdk.sm.SecretsManagerClient);
  const name = 'interop/sdk-v3/db';
  const values = { v1: 'sdk-v3-value-one', v2: 'sdk-v3-value-two', v3: 'sdk-v3-value-three' };
  for (const [label, value] of Object.entries(values)) remember(value, `SecretString ${label}`, false);

  const created = await sm.send(new sdk.sm.CreateSecretCommand({ Name: name, SecretString: values.v1 }));
  assert.match(created.ARN, new RegExp(`^arn:aws:secretsmanager:[a-z0-9-]+:${ACCOUNT}:secret:${name}-[A-Za-z0-9]{6}$`));
  // Regional ARNs carry the region the request was signed for (the sandbox once used its own).
  assert.equal(created.ARN.split(':')[3], REGION, "region in the secret's ARN");
  const v1 = created.VersionId; // the SDK generated the ClientRequestToken

  const put = await sm.send(new sdk.sm.PutSecretValueCommand({ SecretId: name, SecretString: values.v2 }));
  const v2 = put.VersionId;
  assert.notEqual(v2, v1);
  assert.deepEqual(put.VersionStages, ['AWSCURRENT']);

  const at = async (VersionStage) => {
    const got = await sm.send(new sdk.sm.GetSecretValueCommand({ SecretId: name, VersionStage }));
    assert.ok(got.VersionStages.includes(VersionStage));
    assert.ok(got.CreatedDate instanceof Date, 'CreatedDate parses as a Date');
    return [got.VersionId, got.SecretString];
  };
  const stages = async () => (await sm.send(new sdk.sm.DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages;
  assert.deepEqual(await at('AWSCURRENT'), [v2, values.v2]);
  assert.deepEqual(await at('AWSPREVIOUS'), [v1, values.v1]);
  assert.deepEqual(await stages(), { [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });

  const pending = await sm.send(new sdk.sm.PutSecretValueCommand({
    SecretId: name, SecretString: values.v3, VersionStages: ['AWSPENDING'] }));
  const v3 = pending.VersionId;
  assert.deepEqual(await at('AWSPENDING'), [v3, values.v3]);
  await expectError(sm.send(new sdk.sm.UpdateSecretVersionStageCommand({
    SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v3 })), 'InvalidParameterException');
  await sm.send(new sdk.sm.UpdateSecretVersionStageCommand({
    SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v3, RemoveFromVersionId: v2 }));
  await sm.send(new sdk.sm.UpdateSecretVersionStageCommand({
    SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: v3 }));
  assert.deepEqual(await stages(), { [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
  assert.deepEqual(await at('AWSCURRENT'), [v3, values.v3]);

  const missing = await expectError(sm.send(new sdk.sm.GetSecretValueCommand({ SecretId: 'interop/sdk-v3/missing' })),
    'ResourceNotFoundException');
  assert.ok(missing instanceof sdk.sm.ResourceNotFoundException, 'the modeled ResourceNotFoundException class');
});

test('SSM SecureString and SNS publish', async () => {
  const ssm = client(sdk.ssm.SSMClient);
  const value = 'sdk-v3-ssm-secure-value';
  remember(value, 'SSM SecureString value', false);
  const put = await ssm.send(new sdk.ssm.PutParameterCommand({ Name: '/interop/sdk-v3/p', Type: 'SecureString', Value: value }));
  assert.equal(put.Version, 1);
  const got = (await ssm.send(new sdk.ssm.GetParameterCommand({ Name: '/interop/sdk-v3/p', WithDecryption: true }))).Parameter;
  assert.deepEqual([got.Type, got.Value], ['SecureString', value]);
  const sealed = (await ssm.send(new sdk.ssm.GetParameterCommand({ Name: '/interop/sdk-v3/p' }))).Parameter;
  assert.notEqual(sealed.Value, value, 'GetParameter without decryption returned the plaintext');
  await expectError(ssm.send(new sdk.ssm.GetParameterCommand({ Name: '/interop/sdk-v3/missing' })), 'ParameterNotFound');

  const sns = client(sdk.sns.SNSClient);
  const { TopicArn } = await sns.send(new sdk.sns.CreateTopicCommand({ Name: 'interop-sdk-v3' }));
  assert.match(TopicArn, new RegExp(`^arn:aws:sns:[a-z0-9-]+:${ACCOUNT}:interop-sdk-v3$`));
  assert.equal(TopicArn.split(':')[3], REGION, 'region in the TopicArn');
  const { MessageId } = await sns.send(new sdk.sns.PublishCommand({ TopicArn, Subject: 'rotated', Message: 'key rotated' }));
  assert.ok(MessageId);
});

// A client whose requests `mutate(request)` alters after signing: the signer
// runs in the finalizeRequest step, deserialize-step middleware runs after it
// and before the request goes out (the deserializer itself wraps the send).
function tampered(Ctor, mutate, credentials) {
  const c = client(Ctor, credentials);
  c.middlewareStack.add((next) => async (args) => {
    mutate(args.request);
    return next(args);
  }, { step: 'deserialize', name: 'interopTamperAfterSigning' });
  return c;
}

function setHeader(name, value) {
  return (request) => {
    for (const k of Object.keys(request.headers)) if (k.toLowerCase() === name.toLowerCase()) delete request.headers[k];
    request.headers[name] = value;
  };
}

function replaceBody(from, to) {
  return (request) => {
    assert.ok(typeof request.body === 'string' && request.body.includes(from), `${from} in the signed body`);
    assert.equal(from.length, to.length, 'tamper keeps Content-Length');
    request.body = request.body.replace(from, to);
  };
}

// Moves the signed X-Amz-Date by `seconds`, reading the value the SDK signed:
// a date computed before send() could land on the very second the SDK then
// signs with, and the "tampered" request would be valid.
function shiftAmzDate(seconds) {
  return (request) => {
    const k = Object.keys(request.headers).find((h) => h.toLowerCase() === 'x-amz-date');
    const v = request.headers[k];
    const signed = Date.parse(`${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}T${v.slice(9, 11)}:${v.slice(11, 13)}:${v.slice(13, 15)}Z`);
    request.headers[k] = new Date(signed + seconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  };
}

test('signature checks: wrong secret, tampered requests, unknown key', async () => {
  const wrong = { ...admin, secretAccessKey: admin.secretAccessKey.slice(0, -1) + (admin.secretAccessKey.endsWith('A') ? 'B' : 'A') };
  const identity = new sdk.sts.GetCallerIdentityCommand({});
  await expectError(client(sdk.iam.IAMClient, wrong).send(new sdk.iam.ListUsersCommand({ MaxItems: 1 })),
    'SignatureDoesNotMatch', 403);
  await expectError(client(sdk.sts.STSClient, wrong).send(identity), 'SignatureDoesNotMatch', 403);
  await expectError(client(sdk.sm.SecretsManagerClient, wrong).send(
    new sdk.sm.GetSecretValueCommand({ SecretId: 'interop/sdk-v3/db' })), 'InvalidSignatureException', 400);

  // Control: a header outside SignedHeaders may be added after signing.
  await tampered(sdk.iam.IAMClient, setHeader('x-interop-unsigned', '1')).send(new sdk.iam.ListUsersCommand({ MaxItems: 1 }));

  await expectError(tampered(sdk.iam.IAMClient, replaceBody('MaxItems=1', 'MaxItems=2'))
    .send(new sdk.iam.ListUsersCommand({ MaxItems: 1 })), 'SignatureDoesNotMatch', 403);
  await expectError(tampered(sdk.iam.IAMClient, replaceBody('interop-sdk-v3-keys', 'interop-bulk-000xxx'))
    .send(new sdk.iam.CreateAccessKeyCommand({ UserName: 'interop-sdk-v3-keys' })), 'SignatureDoesNotMatch', 403);
  await expectError(tampered(sdk.sts.STSClient, shiftAmzDate(1)).send(identity),
    'SignatureDoesNotMatch', 403);

  // JSON protocol: swapping the operation (X-Amz-Target) after signing must not run it.
  const sm = client(sdk.sm.SecretsManagerClient);
  const before = (await sm.send(new sdk.sm.DescribeSecretCommand({ SecretId: 'interop/sdk-v3/db' }))).VersionIdsToStages;
  await expectError(tampered(sdk.sm.SecretsManagerClient, setHeader('x-amz-target', 'secretsmanager.UpdateSecretVersionStage'))
    .send(new sdk.sm.GetSecretValueCommand({ SecretId: 'interop/sdk-v3/db', VersionStage: 'AWSPREVIOUS' })),
  'InvalidSignatureException', 400);
  assert.deepEqual((await sm.send(new sdk.sm.DescribeSecretCommand({ SecretId: 'interop/sdk-v3/db' }))).VersionIdsToStages,
    before, 'stages after a request whose X-Amz-Target was swapped');
  await expectError(tampered(sdk.sm.SecretsManagerClient, replaceBody('interop/sdk-v3/db', 'interop/sdk-v3/xx'))
    .send(new sdk.sm.GetSecretValueCommand({ SecretId: 'interop/sdk-v3/db' })), 'InvalidSignatureException', 400);

  const unknown = { accessKeyId: 'AKIAZZZZZZZZZZZZZZZZ', secretAccessKey: admin.secretAccessKey };
  await expectError(client(sdk.sts.STSClient, unknown).send(identity), 'InvalidClientTokenId', 403);
  await expectError(client(sdk.iam.IAMClient, unknown).send(new sdk.iam.GetUserCommand({})), 'InvalidClientTokenId', 403);
  await expectError(client(sdk.sm.SecretsManagerClient, unknown).send(
    new sdk.sm.GetSecretValueCommand({ SecretId: 'interop/sdk-v3/db' })), 'UnrecognizedClientException', 400);
});

test('sandbox stops on SIGTERM; no secret leaked', async () => {
  sandbox.child.kill('SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000).unref());
  const exit = await Promise.race([sandbox.exited, timeout]);
  if (!exit) sandbox.child.kill('SIGKILL');
  assert.ok(exit, 'sandbox exited within 10s of SIGTERM');
  const own = printed.join('');
  const leaks = [];
  for (const [value, { origin, ownOutputToo }] of secrets) {
    if (sandbox.out.includes(value)) leaks.push(`${origin} in sandbox stdout`);
    if (sandbox.err.includes(value)) leaks.push(`${origin} in sandbox stderr`);
    if (ownOutputToo && own.includes(value)) leaks.push(`${origin} in this test's own output`);
  }
  assert.deepEqual(leaks, [], 'secrets found (named by origin, never printed)');
  assert.ok(secrets.size >= 4, `scanned for ${secrets.size} secrets`);
  fs.rmSync(workdir, { recursive: true, force: true });
});


process.on('exit', () => {
  if (sandbox.child && sandbox.child.exitCode === null && sandbox.child.signalCode === null) sandbox.child.kill('SIGKILL');
});
