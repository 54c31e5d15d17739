from tests.inbound.conftest import inbound  # noqa: F401 - the webhook fixture
