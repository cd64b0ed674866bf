"""The emulator's shared clients: one per service and region, never one made for another routing."""

import os
from unittest import mock

from moto import mock_aws

from regionshift.emulator.clients import client


def test_a_client_is_made_once_per_service_and_region_while_moto_intercepts() -> None:
    with mock_aws():
        made = client("s3", "us-east-1")
        assert client("s3", "us-east-1") is made
        assert client("s3", "us-west-2") is not made and client("sqs", "us-east-1") is not made


def test_a_client_made_for_moto_in_process_never_serves_moto_behind_an_endpoint() -> None:
    with mock_aws():
        in_process = client("s3", "us-east-1")
    # Given moto's server instead (no interception; the endpoint in the environment, as server.py sets it)
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "MOTO_PORT": "1"}):
        served = client("s3", "us-east-1")
    # Then the client is another one, pointed at that endpoint, not the in-process one (which would
    # otherwise send its calls to AWS itself)
    assert served is not in_process and served.meta.endpoint_url == "http://127.0.0.1:1"
    with mock_aws():
        assert client("s3", "us-east-1") is in_process
