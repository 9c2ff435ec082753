"""The AWS side of the EKS hub: IAM roles, the EKS cluster and node groups, the OIDC provider, ECR.

Idempotent `ensure(spec)` (a second run changes nothing) and `destroy(spec)` (removes what `ensure`
created: everything tagged skyhub:cluster=<name>; keeps user home volumes unless told). Written against
boto3; tested against moto's server over HTTP (tests/integration/eks). The in-cluster add-ons (EBS and
Mountpoint-for-S3 CSI drivers) are `ensure_addons`, which moto 5.2.5 does not implement (untested here).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.signers import RequestSigner

from skyhub.errors import SkyhubError

OWNER_TAG = "skyhub:cluster"
VOLUME_TAG = "skyhub:volume"
USER_VOLUME = "user-home"
PURPOSE_LABEL = "hub.jupyter.org/node-purpose"
STS = "sts.amazonaws.com"
# The root CA thumbprint IAM lists for EKS OIDC issuers (IAM no longer checks it for them, but takes it).
OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

# Kubernetes service accounts that get an IAM role (IRSA), with the role name suffix.
SERVICE_ACCOUNTS = {
    "ebs-csi": "kube-system:ebs-csi-controller-sa",
    "s3-csi": "kube-system:s3-csi-driver-sa",
    "autoscaler": "kube-system:cluster-autoscaler",
}
MANAGED = "arn:aws:iam::aws:policy/"
ROLE_MANAGED_POLICIES = {
    "cluster": [MANAGED + "AmazonEKSClusterPolicy"],
    "node": [MANAGED + "AmazonEKSWorkerNodePolicy", MANAGED + "AmazonEKS_CNI_Policy"],
    "ebs-csi": [MANAGED + "service-role/AmazonEBSCSIDriverPolicy"],
    "s3-csi": [],
    "autoscaler": [],
}
ADDONS = {"aws-ebs-csi-driver": "ebs-csi", "aws-mountpoint-s3-csi-driver": "s3-csi"}


@dataclass
class NodeGroupSpec:
    name: str
    purpose: str  # core | user (the label Z2JH's matchNodePurpose uses)
    instance_types: list[str]
    min_size: int
    max_size: int
    desired_size: int
    disk_size: int = 50
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ClusterSpec:
    name: str
    region: str
    subnet_ids: list[str]
    kubernetes_version: str = "1.33"
    security_group_ids: list[str] = field(default_factory=list)
    endpoint_public_access: bool = True
    public_access_cidrs: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    nodegroups: list[NodeGroupSpec] = field(default_factory=list)
    ecr_repositories: list[str] = field(default_factory=list)
    private_datasets: list[dict[str, str]] = field(default_factory=list)  # {bucket, prefix}
    tags: dict[str, str] = field(default_factory=dict)
    endpoint_url: str = ""

    @property
    def owned_tags(self) -> dict[str, str]:
        return {**self.tags, OWNER_TAG: self.name}

    def role_name(self, kind: str) -> str:
        return f"{self.name}-{kind}"[:64]


def default_nodegroups(
    core_type: str = "t3.large", user_type: str = "r6i.xlarge", user_min: int = 0, user_max: int = 10
) -> list[NodeGroupSpec]:
    """A small always-on core pool for the hub and proxy, and an autoscaling, tainted user pool."""
    return [
        NodeGroupSpec("core", "core", [core_type], 1, 2, 1, disk_size=30),
        NodeGroupSpec(
            "user",
            "user",
            [user_type],
            user_min,
            user_max,
            user_min,
            taints=[{"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NO_SCHEDULE"}],
        ),
    ]


class Clients:
    def __init__(self, spec: ClusterSpec) -> None:
        session = boto3.session.Session(region_name=spec.region)
        kw: dict[str, Any] = {"endpoint_url": spec.endpoint_url} if spec.endpoint_url else {}
        self.eks = session.client("eks", **kw)
        self.iam = session.client("iam", **kw)
        self.ecr = session.client("ecr", **kw)
        self.ec2 = session.client("ec2", **kw)
        self.sts = session.client("sts", **kw)


@dataclass
class Result:
    changed: bool = False
    actions: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def did(self, action: str) -> None:
        self.changed = True
        self.actions.append(action)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


# --- IAM policies -------------------------------------------------------------------------------------------


def trust_service(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def trust_service_account(provider_arn: str, issuer: str, service_account: str) -> dict[str, Any]:
    """Only this Kubernetes service account, through the cluster's OIDC provider, may assume the role."""
    host = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": f"system:serviceaccount:{service_account}",
                        f"{host}:aud": STS,
                    }
                },
            }
        ],
    }


def ecr_pull_policy(repository_arns: list[str]) -> dict[str, Any]:
    """Nodes pull only skyhub's repositories (the token call has no resource-level scope)."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    ]
    if repository_arns:
        statements.append(
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                "Resource": sorted(repository_arns),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def dataset_read_policy(datasets: list[dict[str, str]]) -> dict[str, Any]:
    """Read-only, and only the configured prefix of each private dataset bucket."""
    statements = []
    for d in datasets:
        prefix = d.get("prefix", "")
        list_stmt: dict[str, Any] = {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{d['bucket']}",
        }
        if prefix:
            list_stmt["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
        statements.append(list_stmt)
        statements.append(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{d['bucket']}/{prefix}*"}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def autoscaler_policy(cluster: str) -> dict[str, Any]:
    """Cluster autoscaler: describe anything, resize only this cluster's node group ASGs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"}
                },
            },
        ],
    }


# --- ensure ----------------------------------------------------------------------------------------------


def _ensure_role(c: Clients, spec: ClusterSpec, kind: str, trust: dict[str, Any], res: Result) -> str:
    name = spec.role_name(kind)
    try:
        role = c.iam.get_role(RoleName=name)["Role"]
        if json.loads(json.dumps(role["AssumeRolePolicyDocument"])) != trust:
            c.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            res.did(f"updated trust of IAM role {name}")
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise
        role = c.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"skyhub EKS {kind} ({spec.name})",
            Tags=_tag_list(spec.owned_tags),
        )["Role"]
        res.did(f"created IAM role {name}")
    attached = {p["PolicyArn"] for p in c.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    for arn in ROLE_MANAGED_POLICIES[kind]:
        if arn not in attached:
            c.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            res.did(f"attached {arn.rsplit('/', 1)[-1]} to {name}")
    return role["Arn"]


def _ensure_inline(c: Clients, role: str, policy_name: str, doc: dict[str, Any] | None, res: Result) -> None:
    existing = c.iam.list_role_policies(RoleName=role)["PolicyNames"]
    if doc is None:
        if policy_name in existing:
            c.iam.delete_role_policy(RoleName=role, PolicyName=policy_name)
            res.did(f"removed policy {policy_name} from {role}")
        return
    if policy_name in existing:
        current = c.iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        if current == doc:
            return
    c.iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(doc))
    res.did(f"set policy {policy_name} on {role}")


def _ensure_repositories(c: Clients, spec: ClusterSpec, res: Result) -> dict[str, str]:
    out = {}
    for name in spec.ecr_repositories:
        try:
            repo = c.ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ClientError as exc:
            if _code(exc) != "RepositoryNotFoundException":
                raise
            repo = c.ecr.create_repository(
                repositoryName=name,
                imageTagMutability="IMMUTABLE",
                imageScanningConfiguration={"scanOnPush": True},
                tags=_tag_list(spec.owned_tags),
            )["repository"]
            res.did(f"created ECR repository {name}")
        out[name] = repo["repositoryUri"]
    return out


def _repository_arn(c: Clients, spec: ClusterSpec, name: str) -> str:
    account = c.sts.get_caller_identity()["Account"]
    return f"arn:aws:ecr:{spec.region}:{account}:repository/{name}"


def _ensure_cluster(c: Clients, spec: ClusterSpec, role_arn: str, res: Result) -> dict[str, Any]:
    try:
        cluster = c.eks.describe_cluster(name=spec.name)["cluster"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        c.eks.create_cluster(
            name=spec.name,
            version=spec.kubernetes_version,
            roleArn=role_arn,
            resourcesVpcConfig={
                "subnetIds": spec.subnet_ids,
                "securityGroupIds": spec.security_group_ids,
                "endpointPublicAccess": spec.endpoint_public_access,
                "endpointPrivateAccess": True,
                "publicAccessCidrs": spec.public_access_cidrs,
            },
            accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
            tags=spec.owned_tags,
        )
        res.did(f"created EKS cluster {spec.name}")
        c.eks.get_waiter("cluster_active").wait(name=spec.name, WaiterConfig={"Delay": 15, "MaxAttempts": 80})
        cluster = c.eks.describe_cluster(name=spec.name)["cluster"]
    if cluster.get("version") and cluster["version"] != spec.kubernetes_version:
        raise SkyhubError(
            f"EKS cluster {spec.name} runs Kubernetes {cluster['version']}, eks_kubernetes_version says "
            f"{spec.kubernetes_version}: upgrade the cluster (one minor version at a time) or set the "
            "variable to match"
        )
    return cluster


def _nodegroup_request(spec: ClusterSpec, ng: NodeGroupSpec, node_role: str) -> dict[str, Any]:
    return {
        "clusterName": spec.name,
        "nodegroupName": ng.name,
        "scalingConfig": {"minSize": ng.min_size, "maxSize": ng.max_size, "desiredSize": ng.desired_size},
        "diskSize": ng.disk_size,
        "subnets": spec.subnet_ids,
        "instanceTypes": ng.instance_types,
        "amiType": "AL2023_x86_64_STANDARD",
        "capacityType": "ON_DEMAND",
        "nodeRole": node_role,
        "labels": {PURPOSE_LABEL: ng.purpose},
        "taints": ng.taints,
        "tags": spec.owned_tags,
    }


def _ensure_nodegroup(c: Clients, spec: ClusterSpec, ng: NodeGroupSpec, node_role: str, res: Result) -> None:
    try:
        current = c.eks.describe_nodegroup(clusterName=spec.name, nodegroupName=ng.name)["nodegroup"]
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        c.eks.create_nodegroup(**_nodegroup_request(spec, ng, node_role))
        res.did(f"created node group {ng.name}")
        c.eks.get_waiter("nodegroup_active").wait(
            clusterName=spec.name, nodegroupName=ng.name, WaiterConfig={"Delay": 15, "MaxAttempts": 80}
        )
        return
    if sorted(current.get("instanceTypes") or []) != sorted(ng.instance_types):
        raise SkyhubError(
            f"node group {ng.name} runs {current.get('instanceTypes')}, the inventory asks for "
            f"{ng.instance_types}: EKS cannot change a node group's instance types; add a node group with a "
            "new name, or keep the types"
        )
    scaling = current["scalingConfig"]
    # desired size belongs to the autoscaler once the group exists: only the bounds are enforced
    wanted = {"minSize": ng.min_size, "maxSize": ng.max_size}
    if {k: scaling[k] for k in wanted} != wanted:
        desired = min(max(scaling["desiredSize"], ng.min_size), ng.max_size)
        c.eks.update_nodegroup_config(
            clusterName=spec.name, nodegroupName=ng.name, scalingConfig={**wanted, "desiredSize": desired}
        )
        res.did(f"resized node group {ng.name} to {ng.min_size}..{ng.max_size}")


def _ensure_oidc_provider(c: Clients, spec: ClusterSpec, issuer: str, res: Result) -> str:
    host = issuer.removeprefix("https://")
    for p in c.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if p["Arn"].endswith(f"oidc-provider/{host}"):
            return p["Arn"]
    arn = c.iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=[STS], ThumbprintList=[OIDC_THUMBPRINT], Tags=_tag_list(spec.owned_tags)
    )["OpenIDConnectProviderArn"]
    res.did(f"created IAM OIDC provider for {spec.name}")
    return arn


def ensure(spec: ClusterSpec) -> Result:
    """Create or adopt everything the EKS hub needs on AWS; a second run changes nothing."""
    _check(spec)
    c, res = Clients(spec), Result()
    cluster_role = _ensure_role(c, spec, "cluster", trust_service("eks.amazonaws.com"), res)
    node_role = _ensure_role(c, spec, "node", trust_service("ec2.amazonaws.com"), res)
    repos = _ensure_repositories(c, spec, res)
    arns = [_repository_arn(c, spec, name) for name in spec.ecr_repositories]
    _ensure_inline(c, spec.role_name("node"), "skyhub-ecr-pull", ecr_pull_policy(arns), res)
    cluster = _ensure_cluster(c, spec, cluster_role, res)
    for ng in spec.nodegroups:
        _ensure_nodegroup(c, spec, ng, node_role, res)
    issuer = cluster["identity"]["oidc"]["issuer"]
    provider = _ensure_oidc_provider(c, spec, issuer, res)
    irsa = {}
    for kind, sa in SERVICE_ACCOUNTS.items():
        irsa[kind] = _ensure_role(c, spec, kind, trust_service_account(provider, issuer, sa), res)
    private = dataset_read_policy(spec.private_datasets) if spec.private_datasets else None
    _ensure_inline(c, spec.role_name("s3-csi"), "skyhub-datasets-read", private, res)
    _ensure_inline(c, spec.role_name("autoscaler"), "skyhub-autoscaler", autoscaler_policy(spec.name), res)
    account = c.sts.get_caller_identity()["Account"]
    res.outputs = {
        "cluster_name": spec.name,
        "cluster_endpoint": cluster.get("endpoint", ""),
        "cluster_ca": (cluster.get("certificateAuthority") or {}).get("data", ""),
        "cluster_arn": cluster["arn"],
        "oidc_issuer": issuer,
        "oidc_provider_arn": provider,
        "role_arns": {"cluster": cluster_role, "node": node_role, **irsa},
        "ecr_registry": f"{account}.dkr.ecr.{spec.region}.amazonaws.com",
        "ecr_repositories": repos,
    }
    return res


def _check(spec: ClusterSpec) -> None:
    if not spec.subnet_ids or len(spec.subnet_ids) < 2:
        raise SkyhubError(
            "eks_subnet_ids needs at least two subnets in different availability zones (EKS rule)"
        )
    for ng in spec.nodegroups:
        if not (0 <= ng.min_size <= ng.desired_size <= ng.max_size) or ng.max_size < 1:
            raise SkyhubError(
                f"node group {ng.name}: need 0 <= min ({ng.min_size}) <= desired ({ng.desired_size}) <= max "
                f"({ng.max_size}) and max >= 1"
            )


def ensure_addons(spec: ClusterSpec, role_arns: dict[str, str]) -> Result:
    """The EBS and Mountpoint-for-S3 CSI drivers as EKS add-ons with their IRSA roles (not in moto 5.2.5)."""
    c, res = Clients(spec), Result()
    installed = set(c.eks.list_addons(clusterName=spec.name)["addons"])
    for addon, kind in ADDONS.items():
        if addon in installed:
            continue
        c.eks.create_addon(
            clusterName=spec.name,
            addonName=addon,
            serviceAccountRoleArn=role_arns[kind],
            resolveConflicts="OVERWRITE",
            tags=spec.owned_tags,
        )
        res.did(f"installed add-on {addon}")
    for addon in ADDONS:
        c.eks.get_waiter("addon_active").wait(clusterName=spec.name, addonName=addon)
    return res


# --- destroy ---------------------------------------------------------------------------------------------


def _owned(tags: dict[str, str] | None, spec: ClusterSpec) -> bool:
    return (tags or {}).get(OWNER_TAG) == spec.name


def _destroy_cluster(c: Clients, spec: ClusterSpec, res: Result) -> None:
    try:
        cluster = c.eks.describe_cluster(name=spec.name)["cluster"]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return
        raise
    if not _owned(cluster.get("tags"), spec):
        res.actions.append(f"kept EKS cluster {spec.name}: adopted, not created by skyhub")
        return
    for ng in c.eks.list_nodegroups(clusterName=spec.name)["nodegroups"]:
        c.eks.delete_nodegroup(clusterName=spec.name, nodegroupName=ng)
        res.did(f"deleted node group {ng}")
        c.eks.get_waiter("nodegroup_deleted").wait(
            clusterName=spec.name, nodegroupName=ng, WaiterConfig={"Delay": 15, "MaxAttempts": 80}
        )
    c.eks.delete_cluster(name=spec.name)
    res.did(f"deleted EKS cluster {spec.name}")
    c.eks.get_waiter("cluster_deleted").wait(name=spec.name, WaiterConfig={"Delay": 15, "MaxAttempts": 80})
    host = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    for p in c.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if p["Arn"].endswith(f"oidc-provider/{host}"):
            c.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=p["Arn"])
            res.did("deleted IAM OIDC provider")


def _destroy_role(c: Clients, spec: ClusterSpec, kind: str, res: Result) -> None:
    name = spec.role_name(kind)
    try:
        tags = {t["Key"]: t["Value"] for t in c.iam.list_role_tags(RoleName=name)["Tags"]}
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return
        raise
    if not _owned(tags, spec):
        res.actions.append(f"kept IAM role {name}: not created by skyhub")
        return
    for p in c.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        c.iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
    for policy in c.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        c.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    c.iam.delete_role(RoleName=name)
    res.did(f"deleted IAM role {name}")


def _destroy_repositories(c: Clients, spec: ClusterSpec, res: Result) -> None:
    for name in spec.ecr_repositories:
        try:
            repo = c.ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ClientError as exc:
            if _code(exc) == "RepositoryNotFoundException":
                continue
            raise
        tags = {
            t["Key"]: t["Value"]
            for t in c.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
        }
        if _owned(tags, spec):
            c.ecr.delete_repository(repositoryName=name, force=True)
            res.did(f"deleted ECR repository {name}")


def user_volumes(c: Clients, spec: ClusterSpec) -> list[str]:
    """EBS volumes holding user homes of this cluster (tagged by the storage class)."""
    pages = c.ec2.get_paginator("describe_volumes").paginate(
        Filters=[
            {"Name": f"tag:{OWNER_TAG}", "Values": [spec.name]},
            {"Name": f"tag:{VOLUME_TAG}", "Values": [USER_VOLUME]},
        ]
    )
    return sorted(v["VolumeId"] for page in pages for v in page["Volumes"])


def destroy(spec: ClusterSpec, delete_user_volumes: bool = False) -> Result:
    """Remove what `ensure` created. User home volumes stay unless delete_user_volumes."""
    c, res = Clients(spec), Result()
    _destroy_cluster(c, spec, res)
    for kind in ("autoscaler", "s3-csi", "ebs-csi", "node", "cluster"):
        _destroy_role(c, spec, kind, res)
    _destroy_repositories(c, spec, res)
    volumes = user_volumes(c, spec)
    if delete_user_volumes:
        for vol in volumes:
            c.ec2.delete_volume(VolumeId=vol)
            res.did(f"deleted user volume {vol}")
        volumes = []
    res.outputs = {"kept_user_volumes": volumes}
    return res


# --- helpers for the role ----------------------------------------------------------------------------------


def cluster_exists(spec: ClusterSpec) -> bool:
    try:
        Clients(spec).eks.describe_cluster(name=spec.name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def ecr_login(spec: ClusterSpec) -> dict[str, str]:
    """{registry, username, password} for `docker login` to the account's ECR (valid 12 hours)."""
    data = Clients(spec).ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {
        "registry": data["proxyEndpoint"].removeprefix("https://"),
        "username": username,
        "password": password,
    }


def eks_token(cluster: str, region: str) -> str:
    """A Kubernetes bearer token for EKS: a presigned STS GetCallerIdentity URL naming the cluster."""
    session = boto3.session.Session(region_name=region)
    sts = session.client("sts", region_name=region)
    signer = RequestSigner(
        sts.meta.service_model.service_id, region, "sts", "v4", session.get_credentials(), session.events
    )
    url = signer.generate_presigned_url(
        {
            "method": "GET",
            "url": f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            "body": {},
            "headers": {"x-k8s-aws-id": cluster},
            "context": {},
        },
        region_name=region,
        expires_in=60,
        operation_name="",
    )
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
