"""Table tests of the pure parts: selectors, controlled ReplicaSets, revisions, status rules."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.connections.cluster import exit_code, selector_matches, selector_string
from remediations.kubernetes.revisions import (
    REVISION,
    RevisionNotFound,
    all_replica_sets,
    controlled_replica_sets,
    equal_ignore_hash,
    history,
    image_tag,
    pick_revision,
    release_revision,
    rollback_annotations,
    rollback_patch,
)
from remediations.kubernetes.rollout import pod_warning, rollout_status

SEL = {"matchLabels": {"app": "web"},
       "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]},
                            {"key": "canary", "operator": "DoesNotExist"}]}


@pytest.mark.parametrize("selector,text", [
    ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
    (SEL, "app=web,!canary,tier in (edge,front)"),
    ({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["b", "a"]},
                           {"key": "y", "operator": "Exists"}]}, "x notin (a,b),y"),
    ({}, ""),
])
def test_selector_string_is_kubectls(selector: dict[str, Any], text: str) -> None:
    # Requirements sorted by key, values sorted: LabelSelectorAsSelector(...).String().
    assert selector_string(selector) == text


@pytest.mark.parametrize("labels,matches", [
    ({"app": "web", "tier": "front"}, True),
    ({"app": "web", "tier": "edge", "x": "y"}, True),
    ({"app": "web"}, False),                                  # tier missing
    ({"app": "web", "tier": "back"}, False),                  # tier not in
    ({"app": "web", "tier": "front", "canary": "1"}, False),  # must not exist
    ({"app": "api", "tier": "front"}, False),
])
def test_selector_matches_with_expressions(labels: dict[str, str], matches: bool) -> None:
    assert selector_matches(SEL, labels) is matches


def test_empty_selector_matches_all_and_none_matches_nothing() -> None:
    assert selector_matches({}, {"a": "b"}) and not selector_matches(None, {"a": "b"})


def rs(name: str, revision: Any, image: str = "app:v1", *, uid: str = "dep", controller: bool = True,
       labels: dict[str, str] | None = None, created: str = "", hash_: str = "") -> dict[str, Any]:
    tl = {"app": "web", "tier": "front", "pod-template-hash": hash_ or name}
    notes = {} if revision is None else {REVISION: str(revision)}
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created or name,
                         "labels": labels if labels is not None else tl, "annotations": notes,
                         "ownerReferences": [{"uid": uid, "controller": controller}]},
            "spec": {"template": {"metadata": {"labels": tl},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


DEP = {"metadata": {"name": "web", "uid": "dep", "resourceVersion": "42",
                    "annotations": {REVISION: "3", "team": "payments",
                                    "kubernetes.io/change-cause": "deploy v1.2.4",
                                    "remediations.io/lock": "run-1\tnow\tme"}},
       "spec": {"selector": SEL,
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                             "spec": {"containers": [{"name": "app", "image": "app:v3"}]}}}}


def test_only_replica_sets_the_deployment_controls_by_owner_and_full_selector() -> None:
    rses = [rs("a", 1), rs("b", 2, uid="other"), rs("c", 3, controller=False),
            rs("d", 4, labels={"app": "web", "tier": "back"}),            # fails matchExpressions
            rs("e", 5, labels={"app": "web", "tier": "front", "canary": "x"}),
            rs("f", 6)]
    assert [r["metadata"]["name"] for r in controlled_replica_sets(DEP, rses)] == ["a", "f"]


def test_all_replica_sets_puts_the_new_one_last() -> None:
    rses = [rs("a", 3, "app:v3", created="1"), rs("b", 1, "app:v1", created="2")]
    assert [r["metadata"]["name"] for r in all_replica_sets(DEP, rses)] == ["b", "a"]


@pytest.mark.parametrize("revisions,to,expected", [
    ([1, 2, 3], 0, 2),             # previous = second-highest
    ([3, 1, 2], 0, 2),
    ([5, 9, 7], 0, 7),
    ([1, 2, 3], 1, 1),
    ([1, None, 3], 0, 1),           # no annotation counts as revision 0...
    ([1, "x", 3], 0, 1),            # ...an unparseable one is skipped
])
def test_pick_revision_is_kubectls(revisions: list[Any], to: int, expected: int) -> None:
    rses = [rs(f"r{i}", r) for i, r in enumerate(revisions)]
    picked = pick_revision(rses, to, "web")
    assert picked["metadata"]["annotations"].get(REVISION) == str(expected)


@pytest.mark.parametrize("revisions,to,message", [
    ([1, 2], 7, "unable to find specified revision 7 in history"),
    ([1], 0, 'no rollout history found for deployment "web"'),
    ([1, 2], -1, "unable to find specified revision -1 in history"),
])
def test_pick_revision_errors_are_kubectls(revisions: list[int], to: int, message: str) -> None:
    with pytest.raises(RevisionNotFound, match=message):
        pick_revision([rs(f"r{r}", r) for r in revisions], to, "web")


def test_release_picks_the_newest_revision_running_that_tag() -> None:
    rses = [rs("a", 1, "reg:5000/app:v1.2.2"), rs("b", 2, "reg:5000/app:v1.2.3"),
            rs("c", 4, "reg:5000/app:v1.2.2"), rs("d", 3, "reg:5000/app:v1.2.4")]
    assert release_revision(rses, "app", "v1.2.2")["metadata"]["name"] == "c"
    with pytest.raises(RevisionNotFound, match="v9"):
        release_revision(rses, "app", "v9")
    with pytest.raises(RevisionNotFound):
        release_revision(rses, "sidecar", "v1.2.2")


@pytest.mark.parametrize("image,tag", [
    ("app:v1.2.2", "v1.2.2"), ("reg:5000/shop/app:v1.2.2", "v1.2.2"), ("reg:5000/app", None),
    ("app@sha256:abc", None), ("app:v1@sha256:abc", "v1"), ("app", None),
])
def test_image_tag(image: str, tag: str | None) -> None:
    assert image_tag(image) == tag


def tmpl(labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "i"}], **spec}}


@pytest.mark.parametrize("t1,t2,equal", [
    (tmpl({"app": "w", "pod-template-hash": "abc"}), tmpl({"app": "w"}), True),
    (tmpl({"app": "w", "pod-template-hash": "abc"}), tmpl({"app": "w", "pod-template-hash": "x"}), True),
    (tmpl({"app": "w"}, volumes=[]), tmpl({"app": "w"}), True),           # empty == absent
    (tmpl({"app": "w"}, nodeSelector=None), tmpl({"app": "w"}, nodeSelector={}), True),
    (tmpl({"app": "w"}), tmpl({"app": "v"}), False),
    (tmpl({"app": "w"}, hostNetwork=True), tmpl({"app": "w"}), False),
    ({"metadata": {"labels": {"pod-template-hash": "h"}}, "spec": {}}, {"spec": {}}, True),
])
def test_equal_ignore_hash(t1: dict[str, Any], t2: dict[str, Any], equal: bool) -> None:
    assert equal_ignore_hash(t1, t2) is equal


def test_rollback_keeps_the_deployments_annotations_and_takes_the_revisions() -> None:
    target = rs("a", 1)
    target["metadata"]["annotations"].update({
        "kubernetes.io/change-cause": "deploy v1.2.2", "owner": "old",
        "deployment.kubernetes.io/desired-replicas": "9", "remediations.io/lock": "stale"})
    notes = rollback_annotations(DEP, target)
    assert notes == {
        REVISION: "3",                                     # skipped: the Deployment's
        "team": "payments",                                # the Deployment's own: kept
        "kubernetes.io/change-cause": "deploy v1.2.2",     # the revision's, as kubectl
        "owner": "old",
        "remediations.io/lock": "run-1\tnow\tme",          # ours: never from the RS
    }


def test_rollback_patch_is_kubectls_json_patch_guarded_by_resource_version() -> None:
    patch = rollback_patch(DEP, rs("a", 1, "app:v1"), {"remediations.io/rolled-back": "m"})
    assert [(op["op"], op["path"]) for op in patch] == [
        ("test", "/metadata/resourceVersion"), ("replace", "/spec/template"),
        ("replace", "/metadata/annotations")]
    assert patch[0]["value"] == "42"
    assert "pod-template-hash" not in patch[1]["value"]["metadata"]["labels"]
    assert patch[1]["value"]["spec"]["containers"][0]["image"] == "app:v1"
    assert patch[2]["value"]["remediations.io/rolled-back"] == "m"


def test_history_lists_revisions_ascending() -> None:
    rses = [rs("b", 3, "app:v3"), rs("a", 1, "app:v1"), rs("c", None, "app:v0")]
    assert [(r.number, r.images["app"]) for r in history(rses)] == [
        (0, "app:v0"), (1, "app:v1"), (3, "app:v3")]


def dep_status(gen: int = 2, observed: int = 2, want: int = 3, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "generation": gen},
            "spec": {"replicas": want}, "status": {"observedGeneration": observed, **status}}


DEADLINE = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]


@pytest.mark.parametrize("dep,done,failed,message", [
    (dep_status(3, 2), False, False, "Waiting for deployment spec update to be observed..."),
    (dep_status(conditions=DEADLINE), False, True, 'deployment "web" exceeded its progress deadline'),
    (dep_status(3, 2, conditions=DEADLINE), False, False,   # not observed yet: stale condition
     "Waiting for deployment spec update to be observed..."),
    (dep_status(updatedReplicas=1, replicas=3), False, False,
     'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'),
    (dep_status(updatedReplicas=3, replicas=4), False, False,
     'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...'),
    (dep_status(updatedReplicas=3, replicas=3, availableReplicas=2), False, False,
     'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'),
    (dep_status(updatedReplicas=3, replicas=3, availableReplicas=3), True, False,
     'deployment "web" successfully rolled out'),
    (dep_status(want=0), True, False, 'deployment "web" successfully rolled out'),
])
def test_rollout_status_rules_are_kubectls(dep: dict[str, Any], done: bool, failed: bool,
                                           message: str) -> None:
    st = rollout_status(dep)
    assert (st.done, st.failed, st.message) == (done, failed, message)


def test_pod_warning_names_a_stuck_container() -> None:
    pods: list[dict[str, Any]] = [{"status": {"containerStatuses": [{"state": {"running": {}}}]}},
            {"status": {"containerStatuses": [{"state": {"waiting": {
                "reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}}]
    assert pod_warning(pods) == "Warning: ImagePullBackOff - Back-off pulling image"
    assert pod_warning(pods[:1]) == ""


@pytest.mark.parametrize("channel,code", [
    ('{"metadata":{},"status":"Success"}', 0),
    ('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}', 3),
    ('{"status":"Failure","message":"exec: \\"nope\\": executable file not found in $PATH"}', 127),
    ('{"status":"Failure","message":"permission denied"}', 126),
    ("", 0),
])
def test_exec_exit_code_from_the_error_channel(channel: str, code: int) -> None:
    assert exit_code(channel) == code
