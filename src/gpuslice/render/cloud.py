"""cloud-objects.json: the aggregates, flavors, traits and resource classes `apply` creates."""

from __future__ import annotations

import json
from typing import Any

from gpuslice.plan.types import CloudObjects


def cloud_objects_data(cloud: CloudObjects) -> dict[str, Any]:
    """The cloud objects as JSON data with openstacksdk's field names.

    `registered_limits` (Keystone, unified limits) appears only when the plan has some.
    """
    data: dict[str, Any] = {
        "resource_classes": list(cloud.resource_classes),
        "traits": list(cloud.traits),
        "provider_traits": {
            name: list(traits) for name, traits in sorted(cloud.provider_traits.items())
        },
        "aggregates": [
            {"name": a.name, "metadata": dict(a.metadata), "hosts": list(a.hosts)}
            for a in cloud.aggregates
        ],
        "flavors": [
            {
                "name": f.name,
                "vcpus": f.vcpus,
                "ram": f.ram,
                "disk": f.disk,
                "is_public": f.is_public,
                "extra_specs": dict(f.extra_specs),
                "projects": list(f.projects),
            }
            for f in cloud.flavors
        ],
    }
    if cloud.registered_limits:
        data["registered_limits"] = [
            {
                "resource_name": limit.resource_name,
                "default_limit": limit.default_limit,
                "description": limit.description,
            }
            for limit in cloud.registered_limits
        ]
    return data


def render_cloud_objects(cloud: CloudObjects) -> str:
    """cloud-objects.json text: indented, keys in a stable order."""
    return json.dumps(cloud_objects_data(cloud), indent=2, sort_keys=True) + "\n"
