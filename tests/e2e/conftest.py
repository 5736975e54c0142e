"""The e2e scenario needs the local release stack, brought up like the stack tests do."""

from tests.stack.conftest import stack_is_up

__all__ = ["stack_is_up"]
