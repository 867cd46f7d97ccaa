#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "AKIACONFORMPROCESS1", "SecretAccessKey": "proc-secret", "SessionToken": "proc-token"}'
