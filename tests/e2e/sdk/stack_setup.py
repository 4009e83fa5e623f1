"""Register a local artifact store with a root other than the default stack's, and use it.

Called by the test-set SDK scripts when ``METAGATE_ARTIFACT_ROOT`` is set: the SDK then
registers the artifact store, a stack with the default orchestrator, and activates it,
all through the REST API (so those requests are in the capture too).
"""

from __future__ import annotations

import os


def use_artifact_root_from_env(stack_name: str) -> str | None:
    root = os.environ.get("METAGATE_ARTIFACT_ROOT")
    if not root:
        return None
    from zenml.client import Client
    from zenml.enums import StackComponentType

    os.makedirs(root, exist_ok=True)
    client = Client()
    store_name = f"{stack_name}-store"
    client.create_stack_component(
        name=store_name,
        flavor="local",
        component_type=StackComponentType.ARTIFACT_STORE,
        configuration={"path": root},
    )
    client.create_stack(
        name=stack_name,
        components={
            StackComponentType.ARTIFACT_STORE: store_name,
            StackComponentType.ORCHESTRATOR: "default",
        },
    )
    client.activate_stack(stack_name)
    return root
