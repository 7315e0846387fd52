from pathlib import Path

from environment.settings import DEFAULT_PORT, load_settings


def test_default_is_the_embedded_emulator_on_localstacks_port():
    settings = load_settings({})
    assert settings.endpoint == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert settings.embedded and settings.port == DEFAULT_PORT
    assert settings.region == "us-east-1" and settings.prefix == "saas-lab-"


def test_lab_port_moves_the_embedded_emulator():
    settings = load_settings({"LAB_PORT": "4600"})
    assert settings.endpoint == "http://127.0.0.1:4600" and settings.embedded


def test_lab_endpoint_wins_over_the_aws_standard_variable():
    settings = load_settings({"LAB_ENDPOINT": "http://localhost:4567/",
                              "AWS_ENDPOINT_URL": "http://elsewhere:1"})
    assert settings.endpoint == "http://localhost:4567" and settings.port == 4567


def test_aws_endpoint_url_is_honoured_and_a_remote_host_is_not_embedded():
    settings = load_settings({"AWS_ENDPOINT_URL": "http://emulator.internal:4566"})
    assert settings.endpoint == "http://emulator.internal:4566"
    assert not settings.embedded


def test_localstack_on_loopback_is_declared_with_lab_embedded_0():
    settings = load_settings({"LAB_ENDPOINT": "http://127.0.0.1:4566", "LAB_EMBEDDED": "0"})
    assert not settings.embedded and "custom endpoint" in settings.target


def test_real_aws_has_no_endpoint_and_no_fixed_keys():
    settings = load_settings({"LAB_ENDPOINT": "aws", "AWS_DEFAULT_REGION": "eu-west-1",
                              "LAB_PREFIX": "ws42-"})
    assert settings.endpoint is None and settings.access_key is None
    assert settings.region == "eu-west-1" and settings.name("orders") == "ws42-orders"
    assert settings.target == "real AWS (eu-west-1)"


def test_real_keys_in_the_environment_never_go_to_an_emulator():
    settings = load_settings({"AWS_ACCESS_KEY_ID": "AKIAREALKEY", "AWS_SECRET_ACCESS_KEY": "s"})
    assert settings.access_key == "test"


def test_state_dir_is_configurable(tmp_path: Path):
    assert load_settings({"LAB_STATE_DIR": str(tmp_path)}).state_dir == tmp_path


def test_a_session_of_vended_credentials_carries_all_three_parts_to_the_lab_endpoint():
    settings = load_settings({"LAB_PORT": "4999", "LAB_REGION": "eu-west-1"})
    session = settings.session({"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret",
                                "SessionToken": "token", "Expiration": "whenever"})
    credentials = session.get_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "ASIAEXAMPLE", "secret", "token")
    assert session.region_name == "eu-west-1"
    assert session.client("s3").meta.endpoint_url == "http://127.0.0.1:4999"
    assert session.resource("dynamodb").meta.client.meta.endpoint_url == "http://127.0.0.1:4999"


def test_sessions_share_the_parsed_service_models_but_not_their_credentials():
    """A new session does not parse botocore's data again (a check builds one per vended role)."""
    settings = load_settings({"LAB_PORT": "4600"})
    kit = settings.session()
    vended = settings.session({"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s",
                               "SessionToken": "t"})
    loader = kit._session.get_component("data_loader")
    assert vended._session.get_component("data_loader") is loader
    assert len(loader.search_paths) == len(set(loader.search_paths))  # boto3's folder once
    assert kit.get_credentials().access_key == "test"
    assert vended.get_credentials().access_key == "ASIAEXAMPLE"
    assert vended.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4600"
