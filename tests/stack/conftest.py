"""Fixtures shared by the stack's test files."""

import pytest
from test_gateway_service import GatewayStack


@pytest.fixture
def make_stack(tmp_path):
    stacks: list[GatewayStack] = []

    def make(**kwargs) -> GatewayStack:
        stacks.append(GatewayStack(tmp_path, **kwargs))
        return stacks[-1].start()

    yield make
    for stack in stacks:
        stack.close()
