"""The openstacksdk edge: open a connection, read a snapshot, make changes.

Everything here talks to a cloud; nothing here decides. Errors from openstacksdk and keystoneauth
become `ServiceUnreachableError` (exit 3) with what to check, and never carry credentials.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from gpuslice.cloud.audit import candidates_query, is_gpu_flavor
from gpuslice.cloud.diff import (
    FLAVOR_DESCRIPTION,
    AddAggregateHost,
    AddFlavorAccess,
    AddProviderTraits,
    Change,
    CreateAggregate,
    CreateFlavor,
    CreateResourceClass,
    CreateTrait,
    DeleteFlavor,
    Diff,
    RemoveAggregateHost,
    RemoveFlavorAccess,
    SetAggregateMetadata,
    SetFlavorSpecs,
)
from gpuslice.cloud.state import (
    SLICE_CLASSES,
    CloudSnapshot,
    LiveAggregate,
    LiveFlavor,
    LiveHypervisor,
    LiveInventory,
    LiveProvider,
    LiveServer,
)
from gpuslice.errors import ServiceUnreachableError

PLACEMENT_MICROVERSION = "1.29"
"""What gpuslice needs of Placement: root/parent providers (1.14), required traits on allocation
candidates (1.17), consumer generations (1.28) and nested candidates (1.29). Queens+ has it."""

COMPUTE_MICROVERSION = "2.61"
"""What gpuslice needs of nova: flavor descriptions (2.55), extra specs in flavor lists (2.61)."""

for _noisy in ("openstack", "keystoneauth", "urllib3", "stevedore"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


class _BrokenAnswerError(Exception):
    """A failed API answer inside this module (turned into ServiceUnreachableError at the edge)."""


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


@contextlib.contextmanager
def cloud_errors(cloud: str | None, doing: str) -> Iterator[None]:
    """Turn openstacksdk/keystoneauth failures into ServiceUnreachableError with what to check."""
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions as sdk

    name = cloud or "(from OS_CLOUD / the environment)"
    try:
        with warnings.catch_warnings():
            # openstacksdk's deprecation notices are for its own callers, not for operators.
            warnings.simplefilter("ignore")
            yield
    except ServiceUnreachableError:
        raise
    except sdk.ConfigException as error:
        msg = (
            f"cloud {name}: {_first_line(error)} Check the cloud's name in clouds.yaml "
            "(./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml or "
            "OS_CLIENT_CONFIG_FILE) and --cloud/OS_CLOUD."
        )
        raise ServiceUnreachableError(msg) from None
    except (ksa.Unauthorized, ksa.Forbidden) as error:
        msg = (
            f"cloud {name}: the credentials were refused while {doing} "
            f"({type(error).__name__}). Check the auth section of this cloud in clouds.yaml and "
            "that the user has the admin role."
        )
        raise ServiceUnreachableError(msg) from None
    except sdk.HttpException as error:
        status = getattr(error, "status_code", None)
        if status in (401, 403):
            msg = (
                f"cloud {name}: the credentials were refused while {doing} (HTTP {status}). "
                "Check the auth section of this cloud in clouds.yaml and that the user has the "
                "admin role."
            )
        else:
            msg = f"cloud {name}: {doing} failed (HTTP {status}): {_first_line(error)}"
        raise ServiceUnreachableError(msg) from None
    except (ksa.ConnectFailure, ksa.ConnectTimeout, ksa.DiscoveryFailure) as error:
        msg = (
            f"cloud {name}: cannot reach the service while {doing} ({type(error).__name__}). "
            "Check the endpoint URLs (auth_url, *_endpoint_override) in clouds.yaml, the network "
            "path and that the service is running."
        )
        raise ServiceUnreachableError(msg) from None
    except ksa.MissingRequiredOptions as error:
        missing = ", ".join(sorted(o.dest for o in error.options))
        hint = (
            "pass --cloud NAME (a cloud in clouds.yaml) or set OS_CLOUD"
            if cloud is None
            else "complete the auth section of this cloud in clouds.yaml"
        )
        msg = f"cloud {name}: missing authentication option(s) {missing}; {hint}."
        raise ServiceUnreachableError(msg) from None
    except ksa.EndpointNotFound:
        msg = (
            f"cloud {name}: no endpoint found while {doing}. Check the service catalog (or "
            "compute_endpoint_override/placement_endpoint_override) and region_name."
        )
        raise ServiceUnreachableError(msg) from None
    except ksa.ClientException as error:
        msg = f"cloud {name}: {doing} failed ({type(error).__name__}). Check clouds.yaml."
        raise ServiceUnreachableError(msg) from None
    except _BrokenAnswerError as error:
        raise ServiceUnreachableError(f"cloud {name}: {doing}: {error}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass
class Cloud:
    """An open connection to one cloud, checked for the microversions gpuslice needs."""

    name: str | None
    conn: Any

    def placement(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200,)
    ) -> Any:
        """Call Placement at PLACEMENT_MICROVERSION; return the JSON body (None when empty)."""
        response = self.conn.placement.request(
            path,
            method,
            json=body,
            microversion=PLACEMENT_MICROVERSION,
            raise_exc=False,
        )
        return _answer(response, f"Placement {method} {path}", ok)


def _answer(response: Any, what: str, ok: tuple[int, ...]) -> Any:
    status = response.status_code
    if status in (401, 403):
        from keystoneauth1 import exceptions as ksa

        raise ksa.Unauthorized()
    if status not in ok:
        msg = f"{what} answered HTTP {status}: {_detail(response)}"
        raise _BrokenAnswerError(msg)
    if status == 204 or not response.content:
        return None
    return response.json()


def _detail(response: Any) -> str:
    """The service's own words from an error answer (Placement's `errors[].detail`, nova's
    `{"badRequest": {"message"}}`), on one line."""
    text = response.text or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            text = str(errors[0].get("detail") or errors[0].get("title") or text)
            text = text.split("\n\n", 1)[-1]  # Placement repeats the status reason first
        elif len(body) == 1:
            (inner,) = body.values()
            if isinstance(inner, dict) and "message" in inner:
                text = str(inner["message"])
    return " ".join(text.split())[:300]


def connect(cloud: str | None) -> Cloud:
    """Open `cloud` from clouds.yaml and check Placement's and nova's microversions."""
    import openstack

    with cloud_errors(cloud, "connecting"):
        conn = openstack.connect(cloud=cloud) if cloud else openstack.connect()
        opened = Cloud(cloud, conn)
        _check_placement_version(opened)
        _check_compute_version(opened)
        return opened


def _check_placement_version(cloud: Cloud) -> None:
    response = cloud.conn.placement.request("/", "GET", raise_exc=False)
    root = _answer(response, "Placement GET /", (200,))
    versions = (root or {}).get("versions") or []
    highest = max((_version_tuple(v.get("max_version", "1.0")) for v in versions), default=(1, 0))
    if highest < _version_tuple(PLACEMENT_MICROVERSION):
        msg = (
            f"Placement offers microversion {highest[0]}.{highest[1]} at most; gpuslice needs "
            f"{PLACEMENT_MICROVERSION} (Placement from Stein, nova 19, on). Check that "
            "placement_endpoint_override / the catalog points at the Placement API and that "
            "Placement is upgraded."
        )
        raise _BrokenAnswerError(msg)


def _check_compute_version(cloud: Cloud) -> None:
    response = cloud.conn.compute.request("/", "GET", raise_exc=False)
    body = _answer(response, "nova GET /", (200, 300))
    versions = (body or {}).get("versions") or [(body or {}).get("version") or {}]
    highest = max((_version_tuple(v.get("version") or "2.0") for v in versions), default=(2, 0))
    if highest < _version_tuple(COMPUTE_MICROVERSION):
        msg = (
            f"nova's API offers microversion {highest[0]}.{highest[1]} at most; gpuslice needs "
            f"{COMPUTE_MICROVERSION} (Rocky, nova 18, on). Check compute_endpoint_override / "
            "the catalog and nova's release."
        )
        raise _BrokenAnswerError(msg)


# ---------------------------------------------------------------------------- reading


def read_snapshot(cloud: Cloud, *, for_audit: bool = False) -> CloudSnapshot:
    """Read what `cloud` holds now. `for_audit` adds servers, quotas and allocation candidates."""
    with cloud_errors(cloud.name, "reading the cloud"):
        resource_classes = frozenset(
            rc["name"] for rc in cloud.placement("GET", "/resource_classes")["resource_classes"]
        )
        traits = frozenset(cloud.placement("GET", "/traits?name=startswith:CUSTOM_")["traits"])
        providers = tuple(_read_provider(cloud, rp, for_audit) for rp in _providers(cloud))
        hypervisors = tuple(
            LiveHypervisor(
                name=h.name,
                service_host=(h.service_details or {}).get("host") or h.name,
                state=h.state or "",
                status=h.status or "",
            )
            for h in cloud.conn.compute.hypervisors(details=True)
        )
        flavors = tuple(_read_flavor(cloud, f) for f in cloud.conn.compute.flavors(is_public=None))
        aggregates = tuple(
            LiveAggregate(
                id=str(a.id),
                name=a.name,
                metadata={str(k): str(v) for k, v in (a.metadata or {}).items()},
                hosts=tuple(a.hosts or ()),
            )
            for a in cloud.conn.compute.aggregates()
        )
        snapshot = CloudSnapshot(
            resource_classes=resource_classes,
            traits=traits,
            providers=providers,
            hypervisors=hypervisors,
            flavors=flavors,
            aggregates=aggregates,
        )
        if not for_audit:
            return snapshot
        servers = _read_servers(cloud, providers)
        quota = _read_quota(cloud, providers, servers)
        candidates = {f.name: _candidates(cloud, f, providers) for f in flavors if is_gpu_flavor(f)}
        return replace(snapshot, servers=servers, candidates=candidates, quota_cores_in_use=quota)


def _providers(cloud: Cloud) -> list[dict[str, Any]]:
    return list(cloud.placement("GET", "/resource_providers")["resource_providers"])


def _read_provider(cloud: Cloud, rp: Mapping[str, Any], for_audit: bool) -> LiveProvider:
    uuid = rp["uuid"]
    base = f"/resource_providers/{uuid}"
    inventories = cloud.placement("GET", f"{base}/inventories")["inventories"]
    traits = cloud.placement("GET", f"{base}/traits")["traits"]
    usages: dict[str, int] = {}
    allocations: dict[str, dict[str, int]] = {}
    if for_audit:
        usages = dict(cloud.placement("GET", f"{base}/usages")["usages"])
        held = cloud.placement("GET", f"{base}/allocations")["allocations"]
        allocations = {c: dict(a["resources"]) for c, a in held.items()}
    return LiveProvider(
        uuid=uuid,
        name=rp["name"],
        generation=int(rp["generation"]),
        root_uuid=rp.get("root_provider_uuid") or uuid,
        parent_uuid=rp.get("parent_provider_uuid"),
        inventories={
            rc: LiveInventory(
                total=int(inv["total"]),
                reserved=int(inv.get("reserved", 0)),
                allocation_ratio=float(inv.get("allocation_ratio", 1.0)),
                max_unit=inv.get("max_unit"),
            )
            for rc, inv in inventories.items()
        },
        usages=usages,
        traits=tuple(sorted(traits)),
        allocations=allocations,
    )


def _read_flavor(cloud: Cloud, flavor: Any) -> LiveFlavor:
    projects: tuple[str, ...] | None = None
    if not flavor.is_public:
        access = cloud.conn.compute.get_flavor_access(flavor)
        projects = tuple(sorted(a["tenant_id"] for a in access))
    return LiveFlavor(
        id=str(flavor.id),
        name=flavor.name,
        vcpus=int(flavor.vcpus),
        ram=int(flavor.ram),
        disk=int(flavor.disk),
        is_public=bool(flavor.is_public),
        extra_specs={str(k): str(v) for k, v in (flavor.extra_specs or {}).items()},
        description=flavor.description,
        projects=projects,
    )


def _read_servers(cloud: Cloud, providers: tuple[LiveProvider, ...]) -> dict[str, LiveServer]:
    consumers = {c for p in providers for c in p.allocations}
    if not consumers:
        return {}
    servers = {}
    for server in cloud.conn.compute.servers(details=True, all_projects=True):
        flavor = server.flavor
        servers[server.id] = LiveServer(
            id=server.id,
            name=server.name,
            project_id=server.project_id,
            flavor_name=flavor.original_name or flavor.name or "",
            vcpus=int(flavor.vcpus or 0),
            extra_specs={str(k): str(v) for k, v in (flavor.extra_specs or {}).items()},
        )
    return servers


def _read_quota(
    cloud: Cloud, providers: tuple[LiveProvider, ...], servers: Mapping[str, LiveServer]
) -> dict[str, int]:
    slice_holders = {
        c
        for p in providers
        for c, res in p.allocations.items()
        if any(rc in SLICE_CLASSES or rc.startswith("CUSTOM_GPU_") for rc in res)
    }
    projects = sorted({s.project_id for s in servers.values() if s.id in slice_holders})
    in_use = {}
    for project in projects:
        response = cloud.conn.compute.request(
            f"/os-quota-sets/{quote(project)}/detail", "GET", raise_exc=False
        )
        body = _answer(response, "nova GET /os-quota-sets/{project}/detail", (200,))
        in_use[project] = int(body["quota_set"]["cores"]["in_use"])
    return in_use


def _candidates(
    cloud: Cloud, flavor: LiveFlavor, providers: tuple[LiveProvider, ...]
) -> frozenset[str]:
    query = candidates_query(flavor)
    if not query:
        return frozenset()
    body = cloud.placement("GET", f"/allocation_candidates?{urlencode(query)}")
    roots = {p.uuid: p.root_uuid for p in providers}
    names = {p.uuid: p.name for p in providers}
    found = set()
    for request in body["allocation_requests"]:
        for uuid in request["allocations"]:
            found.add(names.get(roots.get(uuid, uuid), uuid))
    return frozenset(found)


# ---------------------------------------------------------------------------- changing


@dataclass(frozen=True)
class ApplyResult:
    """What an apply run did: changes done, the one that failed (with why), those not tried."""

    done: tuple[Change, ...]
    failed: tuple[Change, str] | None
    not_done: tuple[Change, ...]


def apply_diff(
    cloud: Cloud, diff: Diff, on_done: Callable[[Change], None] | None = None
) -> ApplyResult:
    """Make the changes of `diff` in order; stop at the first failure and say what is left."""
    done: list[Change] = []
    changes = list(diff.changes)
    ids: dict[tuple[str, str], str] = {}
    for index, change in enumerate(changes):
        try:
            with cloud_errors(cloud.name, change.text):
                _perform(cloud, change, ids)
        except ServiceUnreachableError as error:
            return ApplyResult(tuple(done), (change, str(error)), tuple(changes[index + 1 :]))
        done.append(change)
        if on_done is not None:
            on_done(change)
    return ApplyResult(tuple(done), None, ())


def _aggregate_id(cloud: Cloud, name: str, ids: dict[tuple[str, str], str]) -> str:
    return _object_id("aggregate", name, ids, lambda: cloud.conn.compute.aggregates())


def _flavor_id(cloud: Cloud, name: str, ids: dict[tuple[str, str], str]) -> str:
    return _object_id("flavor", name, ids, lambda: cloud.conn.compute.flavors(is_public=None))


def _object_id(
    kind: str, name: str, ids: dict[tuple[str, str], str], listing: Callable[[], Iterable[Any]]
) -> str:
    """The id of the `kind` called `name`: from `ids` (filled as objects are created or looked
    up), else by listing them once."""
    key = (kind, name)
    if key not in ids:
        for item in listing():
            if item.name == name:
                ids[key] = str(item.id)
                break
        else:
            raise _BrokenAnswerError(f"{kind} {name} not found")
    return ids[key]


def _perform(cloud: Cloud, change: Change, ids: dict[tuple[str, str], str]) -> None:
    compute = cloud.conn.compute
    if isinstance(change, CreateResourceClass):
        cloud.placement("PUT", f"/resource_classes/{quote(change.name)}", ok=(201, 204))
    elif isinstance(change, CreateTrait):
        cloud.placement("PUT", f"/traits/{quote(change.name)}", ok=(201, 204))
    elif isinstance(change, AddProviderTraits):
        _add_provider_traits(cloud, change)
    elif isinstance(change, CreateAggregate):
        aggregate = compute.create_aggregate(name=change.name)
        ids[("aggregate", change.name)] = str(aggregate.id)
    elif isinstance(change, SetAggregateMetadata):
        metadata: dict[str, str | None] = dict(change.set)
        metadata.update(dict.fromkeys(change.unset))
        compute.set_aggregate_metadata(_aggregate_id(cloud, change.aggregate, ids), metadata)
    elif isinstance(change, AddAggregateHost):
        compute.add_host_to_aggregate(_aggregate_id(cloud, change.aggregate, ids), change.host)
    elif isinstance(change, RemoveAggregateHost):
        compute.remove_host_from_aggregate(_aggregate_id(cloud, change.aggregate, ids), change.host)
    elif isinstance(change, CreateFlavor):
        f = change.flavor
        flavor = compute.create_flavor(
            name=f.name,
            vcpus=f.vcpus,
            ram=f.ram,
            disk=f.disk,
            is_public=f.is_public,
            description=FLAVOR_DESCRIPTION,
        )
        ids[("flavor", f.name)] = str(flavor.id)
    elif isinstance(change, DeleteFlavor):
        compute.delete_flavor(_flavor_id(cloud, change.name, ids))
        ids.pop(("flavor", change.name), None)
    elif isinstance(change, SetFlavorSpecs):
        flavor_id = _flavor_id(cloud, change.flavor, ids)
        if change.set:
            compute.create_flavor_extra_specs(flavor_id, dict(change.set))
        for key in change.unset:
            compute.delete_flavor_extra_specs_property(flavor_id, key)
    elif isinstance(change, AddFlavorAccess):
        compute.flavor_add_tenant_access(_flavor_id(cloud, change.flavor, ids), change.project)
    elif isinstance(change, RemoveFlavorAccess):
        compute.flavor_remove_tenant_access(_flavor_id(cloud, change.flavor, ids), change.project)
    else:  # pragma: no cover - the diff makes no other kind
        raise _BrokenAnswerError(f"gpuslice cannot perform {type(change).__name__}")


def _add_provider_traits(cloud: Cloud, change: AddProviderTraits) -> None:
    found = cloud.placement("GET", f"/resource_providers?name={quote(change.provider)}")
    providers = found["resource_providers"]
    if not providers:
        raise _BrokenAnswerError(f"resource provider {change.provider} not found")
    uuid = providers[0]["uuid"]
    for _attempt in range(3):
        current = cloud.placement("GET", f"/resource_providers/{uuid}/traits")
        traits = sorted(set(current["traits"]) | set(change.traits))
        body = {
            "traits": traits,
            "resource_provider_generation": current["resource_provider_generation"],
        }
        response = cloud.conn.placement.request(
            f"/resource_providers/{uuid}/traits",
            "PUT",
            json=body,
            microversion=PLACEMENT_MICROVERSION,
            raise_exc=False,
        )
        if response.status_code == 409:  # nova-compute updated the provider meanwhile: retry
            continue
        _answer(response, f"Placement PUT /resource_providers/{uuid}/traits", (200,))
        return
    raise _BrokenAnswerError(f"resource provider {change.provider} kept changing (HTTP 409)")
