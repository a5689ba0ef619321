pytest_plugins = ["tests.kubeapi.fixture"]
