#!/usr/bin/env python3
"""The template as CloudFormation gets it: aws-sam-translator (the library
`sam deploy` uses) transforms it for six parameter sets — every AuthMode,
both architectures, alarms, a custom domain, a customer managed key, the
account logging role left alone, reserved concurrency. Each must transform,
and give five Lambda functions with roles of their own."""
import os
import sys

# The translator fills ${AWS::Region} in ARNs it builds; any region will do.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PEM = "-----BEGIN PUBLIC KEY-----\\nMFkw...\\n-----END PUBLIC KEY-----"
SETS = {
    "defaults": {"Architecture": "arm64"},
    "x86_64, alarms": {"Architecture": "x86_64", "AlarmEmail": "ops@example.com"},
    "your secret under your key": {
        "Architecture": "arm64",
        "JwtSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsfn-AbCdEf",
        "JwtSecretKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd",
    },
    "public-key": {"Architecture": "arm64", "AuthMode": "public-key", "JwtPublicKey": PEM},
    "jwks (Cognito), custom domain": {
        "Architecture": "arm64",
        "AuthMode": "jwks",
        "CognitoUserPoolId": "eu-west-1_AbC123",
        "DomainName": "ws.example.com",
        "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
    },
    "jwks (URL), existing logging role, reserved": {
        "Architecture": "arm64",
        "AuthMode": "jwks",
        "JwtJwksUrl": "https://example.auth0.com/.well-known/jwks.json",
        "ApiGatewayAccountRole": "existing",
        "MessageReservedConcurrency": "50",
    },
}


class Policies:
    """The two AWS managed policies SAM attaches (no API call needed)."""

    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


def main():
    with open("template.yaml") as f:
        text = f.read()
    failed = False
    for name, params in SETS.items():
        template = yaml_parse(text)
        # `sam deploy` replaces CodeUri with the uploaded artifact's S3 URI.
        template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/wsfn.zip"
        try:
            out = transform(template, params, Policies())
        except Exception as e:  # noqa: BLE001 - report every set, then fail
            print(f"{name}: does not transform: {e}")
            failed = True
            continue
        kinds = [r["Type"] for r in out["Resources"].values()]
        functions = kinds.count("AWS::Lambda::Function")
        roles = kinds.count("AWS::IAM::Role")
        ok = functions == 5 and roles >= 5 and "AWS::Serverless::Function" not in kinds
        failed |= not ok
        print(f"{name}: {'ok' if ok else 'WRONG'}: {len(kinds)} resources, {functions} functions, {roles} roles")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
