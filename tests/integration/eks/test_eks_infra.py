"""The EKS/IAM/ECR calls against moto's server over HTTP: create, idempotence, least privilege, teardown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eks_moto import REGION, client

from skyhub.eks import infra

pytestmark = pytest.mark.integration

CLUSTER = "skyhub-test"
TAGS = {"project": "skyhub", "cost-center": "4711"}


def make_spec(endpoint: str, subnets: list[str], **kw: Any) -> infra.ClusterSpec:
    args: dict[str, Any] = {
        "name": CLUSTER,
        "region": REGION,
        "subnet_ids": subnets,
        "nodegroups": infra.default_nodegroups(user_max=12),
        "ecr_repositories": ["skyhub/astro", "skyhub/minimal"],
        "private_datasets": [{"bucket": "example-edu-survey", "prefix": "dr1/"}],
        "tags": TAGS,
        "endpoint_url": endpoint,
    }
    args.update(kw)
    return infra.ClusterSpec(**args)


def test_cluster_and_node_groups_have_the_expected_parameters(aws: str, subnets: list[str]) -> None:
    res = infra.ensure(make_spec(aws, subnets))
    assert res.changed
    eks = client("eks", aws)
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    assert cluster["version"] == "1.33"
    assert cluster["roleArn"].endswith(f"role/{CLUSTER}-cluster")
    assert cluster["resourcesVpcConfig"]["subnetIds"] == subnets
    assert cluster["tags"] == {**TAGS, "skyhub:cluster": CLUSTER}
    assert sorted(eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]) == ["core", "user"]
    core = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="core")["nodegroup"]
    user = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="user")["nodegroup"]
    assert core["scalingConfig"] == {"minSize": 1, "maxSize": 2, "desiredSize": 1}
    assert user["scalingConfig"] == {"minSize": 0, "maxSize": 12, "desiredSize": 0}
    assert core["instanceTypes"] == ["t3.large"] and user["instanceTypes"] == ["r6i.xlarge"]
    assert core["labels"] == {"hub.jupyter.org/node-purpose": "core"}
    assert user["labels"] == {"hub.jupyter.org/node-purpose": "user"}
    assert user["taints"] == [{"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NO_SCHEDULE"}]
    assert core.get("taints", []) == []
    assert user["nodeRole"].endswith(f"role/{CLUSTER}-node")
    assert user["tags"]["cost-center"] == "4711"
    assert res.outputs["ecr_registry"] == f"123456789012.dkr.ecr.{REGION}.amazonaws.com"


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]


def _actions(stmt: dict[str, Any]) -> list[str]:
    return [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]


def test_roles_are_least_privilege(aws: str, subnets: list[str]) -> None:
    res = infra.ensure(make_spec(aws, subnets))
    iam = client("iam", aws)
    trust = {
        k: iam.get_role(RoleName=f"{CLUSTER}-{k}")["Role"]["AssumeRolePolicyDocument"]
        for k in res.outputs["role_arns"]
    }
    assert _statements(trust["cluster"])[0]["Principal"] == {"Service": "eks.amazonaws.com"}
    assert _statements(trust["node"])[0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    host = res.outputs["oidc_issuer"].removeprefix("https://")
    for kind, sa in infra.SERVICE_ACCOUNTS.items():
        (stmt,) = _statements(trust[kind])
        assert stmt["Principal"] == {"Federated": res.outputs["oidc_provider_arn"]}
        assert stmt["Condition"]["StringEquals"] == {
            f"{host}:sub": f"system:serviceaccount:{sa}",
            f"{host}:aud": "sts.amazonaws.com",
        }

    def attached(kind: str) -> set[str]:
        pols = iam.list_attached_role_policies(RoleName=f"{CLUSTER}-{kind}")["AttachedPolicies"]
        return {p["PolicyName"] for p in pols}

    assert attached("cluster") == {"AmazonEKSClusterPolicy"}
    assert attached("node") == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"}
    assert attached("ebs-csi") == {"AmazonEBSCSIDriverPolicy"}
    assert attached("s3-csi") == set() and attached("autoscaler") == set()

    ecr = iam.get_role_policy(RoleName=f"{CLUSTER}-node", PolicyName="skyhub-ecr-pull")["PolicyDocument"]
    token, pull = _statements(ecr)
    assert _actions(token) == ["ecr:GetAuthorizationToken"]
    assert all(a.startswith("ecr:") and "Put" not in a and "Delete" not in a for a in _actions(pull))
    assert pull["Resource"] == [
        f"arn:aws:ecr:{REGION}:123456789012:repository/skyhub/astro",
        f"arn:aws:ecr:{REGION}:123456789012:repository/skyhub/minimal",
    ]
    s3 = iam.get_role_policy(RoleName=f"{CLUSTER}-s3-csi", PolicyName="skyhub-datasets-read")[
        "PolicyDocument"
    ]
    listing, get = _statements(s3)
    assert _actions(listing) == ["s3:ListBucket"] and listing["Resource"] == "arn:aws:s3:::example-edu-survey"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["dr1/*"]}}
    assert _actions(get) == ["s3:GetObject"] and get["Resource"] == "arn:aws:s3:::example-edu-survey/dr1/*"
    scaler = iam.get_role_policy(RoleName=f"{CLUSTER}-autoscaler", PolicyName="skyhub-autoscaler")[
        "PolicyDocument"
    ]
    write = [s for s in _statements(scaler) if "autoscaling:SetDesiredCapacity" in _actions(s)]
    assert write[0]["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{CLUSTER}": "owned"}
    }
    # no wildcard actions anywhere
    for doc in (ecr, s3, scaler):
        for stmt in _statements(doc):
            assert not any(a == "*" or a.endswith(":*") for a in _actions(stmt)), stmt


def test_without_private_datasets_the_s3_role_has_no_s3_access(aws: str, subnets: list[str]) -> None:
    infra.ensure(make_spec(aws, subnets, private_datasets=[]))
    iam = client("iam", aws)
    assert iam.list_role_policies(RoleName=f"{CLUSTER}-s3-csi")["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=f"{CLUSTER}-s3-csi")["AttachedPolicies"] == []


def test_ecr_repositories_for_each_science_image(aws: str, subnets: list[str]) -> None:
    res = infra.ensure(make_spec(aws, subnets))
    ecr = client("ecr", aws)
    repos = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    assert set(repos) == {"skyhub/astro", "skyhub/minimal"}
    for repo in repos.values():
        assert repo["imageTagMutability"] == "IMMUTABLE"  # a version tag always means the same image
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        tags = {
            t["Key"]: t["Value"]
            for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
        }
        assert tags == {**TAGS, "skyhub:cluster": CLUSTER}
    assert res.outputs["ecr_repositories"]["skyhub/astro"] == repos["skyhub/astro"]["repositoryUri"]


def test_second_run_changes_nothing(aws: str, subnets: list[str]) -> None:
    first = infra.ensure(make_spec(aws, subnets))
    second = infra.ensure(make_spec(aws, subnets))
    assert first.changed and not second.changed, second.actions
    assert second.outputs == first.outputs


def test_changed_bounds_resize_the_user_pool_then_settle(aws: str, subnets: list[str]) -> None:
    infra.ensure(make_spec(aws, subnets))
    bigger = make_spec(aws, subnets, nodegroups=infra.default_nodegroups(user_min=1, user_max=20))
    res = infra.ensure(bigger)
    assert res.actions == ["resized node group user to 1..20"]
    user = client("eks", aws).describe_nodegroup(clusterName=CLUSTER, nodegroupName="user")["nodegroup"]
    assert user["scalingConfig"] == {"minSize": 1, "maxSize": 20, "desiredSize": 1}
    assert not infra.ensure(bigger).changed


def test_instance_type_change_is_refused_with_a_fix(aws: str, subnets: list[str]) -> None:
    infra.ensure(make_spec(aws, subnets))
    other = make_spec(aws, subnets, nodegroups=infra.default_nodegroups(user_type="m6i.2xlarge"))
    with pytest.raises(infra.SkyhubError, match="cannot change a node group's instance types"):
        infra.ensure(other)


def test_bad_input_stops_before_any_call(aws: str, subnets: list[str]) -> None:
    with pytest.raises(infra.SkyhubError, match="eks_subnet_ids"):
        infra.ensure(make_spec(aws, subnets[:1]))
    assert client("iam", aws).list_roles()["Roles"] == []


def _user_volume(aws: str, cluster: str = CLUSTER) -> str:
    """An EBS volume as the EBS CSI driver creates it for a user's claim (our storage class tags it)."""
    ec2 = client("ec2", aws)
    tags = [{"Key": "skyhub:cluster", "Value": cluster}, {"Key": "skyhub:volume", "Value": "user-home"}]
    vol = ec2.create_volume(
        AvailabilityZone=f"{REGION}a",
        Size=10,
        VolumeType="gp3",
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )
    return vol["VolumeId"]


def _leftovers(aws: str) -> dict[str, Any]:
    iam = client("iam", aws)
    return {
        "clusters": client("eks", aws).list_clusters()["clusters"],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER)],
        "oidc": iam.list_open_id_connect_providers()["OpenIDConnectProviderList"],
        "repos": client("ecr", aws).describe_repositories()["repositories"],
    }


def test_teardown_leaves_nothing_but_keeps_user_volumes(aws: str, subnets: list[str]) -> None:
    spec = make_spec(aws, subnets)
    infra.ensure(spec)
    volume = _user_volume(aws)
    res = infra.destroy(spec)
    assert res.changed
    assert _leftovers(aws) == {"clusters": [], "roles": [], "oidc": [], "repos": []}
    assert res.outputs["kept_user_volumes"] == [volume]
    vols = client("ec2", aws).describe_volumes(VolumeIds=[volume])["Volumes"]
    assert vols[0]["VolumeId"] == volume
    again = infra.destroy(spec)
    assert not again.changed


def test_teardown_deletes_user_volumes_when_told(aws: str, subnets: list[str]) -> None:
    spec = make_spec(aws, subnets)
    infra.ensure(spec)
    volume = _user_volume(aws)
    other = _user_volume(aws, cluster="someone-else")
    res = infra.destroy(spec, delete_user_volumes=True)
    assert f"deleted user volume {volume}" in res.actions
    left = [v["VolumeId"] for v in client("ec2", aws).describe_volumes()["Volumes"]]
    assert volume not in left and other in left


def test_teardown_keeps_an_adopted_cluster(aws: str, subnets: list[str]) -> None:
    """A cluster skyhub did not create (no skyhub:cluster tag) is used, never deleted."""
    eks, iam = client("eks", aws), client("iam", aws)
    role = iam.create_role(
        RoleName="theirs", AssumeRolePolicyDocument=json.dumps(infra.trust_service("eks.amazonaws.com"))
    )
    eks.create_cluster(
        name=CLUSTER, version="1.33", roleArn=role["Role"]["Arn"], resourcesVpcConfig={"subnetIds": subnets}
    )
    spec = make_spec(aws, subnets)
    infra.ensure(spec)
    res = infra.destroy(spec)
    assert f"kept EKS cluster {CLUSTER}: adopted, not created by skyhub" in res.actions
    assert eks.list_clusters()["clusters"] == [CLUSTER]
