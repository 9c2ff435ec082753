"""The AMI's publishing settings: private (default) or public, its regions and deprecation date.

`skyhub build --target aws [--public] [--regions A,B] [--deprecate-at DATE]` turns the options and any
`--var` settings into the Packer variables of packer/variables.pkr.hcl (aws_public, aws_encrypt_boot,
aws_region, aws_ami_regions, aws_deprecate_at) and refuses, before Packer runs, what AWS would refuse at the
end of a long build or what a published image must not be (docs/publishing.md):
- public + encrypted (encrypt_boot or a KMS key): AWS cannot share an encrypted AMI publicly;
- a region name that is not one (`us-east1`, `US-EAST-1`), a region listed twice;
- a public image not built in the dataset's region first (us-east-1 for STScI's stpubdata);
- a deprecation date that is not a date, in the past, or past AWS's limit (2 years for public AMIs,
  10 years otherwise);
- a public image from a tree with uncommitted changes (it could not name the commit it was built from).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from skyhub.errors import SkyhubError

# us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1, cn-northwest-1, us-isob-east-1, eusc-de-east-1 ...
REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]{2,4})?-(north|south|east|west|central)(east|west)?-[0-9]{1,2}$")
# AWS: "You can't specify a date in the past. The upper limit for DeprecateAt is 10 years from now,
# except for public AMIs, where the upper limit is 2 years from the creation date."
PUBLIC_MAX_DAYS = 2 * 365
PRIVATE_MAX_DAYS = 10 * 365
# A public image with no --deprecate-at is deprecated after this many days: a hub image a year old
# has a year of unapplied security updates; rebuild and publish a new one (docs/publishing.md).
PUBLIC_DEFAULT_DAYS = 365
DATASET_DEFAULTS = Path("roles") / "dataset_mount" / "defaults" / "main.yml"


@dataclass(frozen=True)
class PublishOptions:
    """What the command line asked for (None: not given)."""

    public: bool = False
    regions: str | None = None  # "A,B,C": built in A, copied to B and C
    deprecate_at: str | None = None  # YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z
    allow_dirty: bool = False


def parse_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise SkyhubError(f"--var {name}={value!r}: use true or false")


def check_region(name: str, where: str) -> str:
    if not REGION_RE.match(name):
        raise SkyhubError(
            f"{where}: {name!r} is not an AWS region name; region names look like us-east-1, eu-west-2, "
            "ap-southeast-2 (lower case, a dash before the number)"
        )
    return name


def parse_regions(text: str) -> list[str]:
    """--regions "us-east-1, us-west-2" as a checked list (first: the build region)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise SkyhubError("--regions is empty: give at least one region, e.g. --regions us-east-1,us-west-2")
    for name in names:
        check_region(name, "--regions")
    _no_duplicates(names, "--regions")
    return names


def _no_duplicates(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SkyhubError(
                f"{where}: {name} is listed twice; each region once (the first is where it is built)"
            )
        seen.add(name)


def ami_regions_var(raw: str) -> list[str]:
    """The aws_ami_regions variable (a JSON list, as Packer takes it) as a list."""
    try:
        names = json.loads(raw) if raw.strip() else []
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SkyhubError(
            f"--var aws_ami_regions must be a JSON list, e.g. '[\"us-west-2\"]' (got {raw!r}); "
            "or use --regions us-east-1,us-west-2"
        )
    return names


def parse_deprecate_at(text: str, where: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM[:SS]Z as an aware UTC datetime."""
    t = text.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return datetime.strptime(t, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise SkyhubError(
        f"{where} {text!r} is not a date: give YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ (UTC), "
        "e.g. 2027-06-30"
    )


def format_deprecate_at(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_deprecate_at(when: datetime, now: datetime, public: bool, where: str) -> None:
    if when <= now:
        suggestion = format_deprecate_at(now + timedelta(days=PUBLIC_DEFAULT_DAYS))[:10]
        raise SkyhubError(
            f"{where} {format_deprecate_at(when)} is in the past (now {format_deprecate_at(now)}): "
            f"give a future date, e.g. {suggestion}"
        )
    limit_days = PUBLIC_MAX_DAYS if public else PRIVATE_MAX_DAYS
    limit = now + timedelta(days=limit_days)
    if when > limit:
        kind = "a public AMI: 2 years after it is made" if public else "an AMI: 10 years from now"
        raise SkyhubError(
            f"{where} {format_deprecate_at(when)} is later than AWS allows for {kind}; "
            f"give a date before {format_deprecate_at(limit)[:10]}"
        )


def dataset_regions(repo: Path, vars_files: list[str]) -> list[str]:
    """Regions of the AWS datasets the image mounts (dataset_mount_datasets: the role's defaults, or the
    last vars file that sets it). Datasets on another endpoint (endpoint_url) have no AWS region."""
    datasets = _datasets(repo / DATASET_DEFAULTS)
    for name in vars_files:
        path = Path(name) if Path(name).is_absolute() else repo / name
        found = _datasets(path)
        if found is not None:
            datasets = found
    regions: list[str] = []
    for entry in datasets or []:
        aws = isinstance(entry, dict) and not entry.get("endpoint_url") and entry.get("region")
        if aws and str(entry["region"]) not in regions:
            regions.append(str(entry["region"]))
    return regions


def _datasets(path: Path) -> list | None:
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    value = data.get("dataset_mount_datasets") if isinstance(data, dict) else None
    return value if isinstance(value, list) else None


def resolve(
    variables: dict[str, str],
    options: PublishOptions,
    *,
    now: datetime,
    dataset_region_list: list[str],
    dirty: bool,
) -> dict[str, str]:
    """The Packer variables for the AMI with the publishing settings applied and checked.

    `variables` are the --var settings (they may set aws_public, aws_encrypt_boot, aws_kms_key_id,
    aws_region, aws_ami_regions, aws_deprecate_at directly); the options are the command line's."""
    out = dict(variables)
    public = options.public or parse_bool(out.get("aws_public", "false"), "aws_public")
    encrypt_given = "aws_encrypt_boot" in out
    encrypt = parse_bool(out["aws_encrypt_boot"], "aws_encrypt_boot") if encrypt_given else not public
    kms = out.get("aws_kms_key_id", "")
    public_name = "--public" if options.public else "--var aws_public=true"

    if public and encrypt:
        raise SkyhubError(
            f"{public_name} and --var aws_encrypt_boot={out['aws_encrypt_boot']} cannot go together: AWS "
            "cannot share an encrypted AMI publicly. Drop aws_encrypt_boot for a public (unencrypted) image, "
            "or drop --public for a private encrypted one."
        )
    if public and kms:
        raise SkyhubError(
            f"{public_name} and --var aws_kms_key_id={kms} cannot go together: a KMS key encrypts the AMI, "
            "and AWS cannot share an encrypted AMI publicly. Drop aws_kms_key_id for a public image."
        )
    if kms and not encrypt:
        raise SkyhubError(
            f"--var aws_kms_key_id={kms} with aws_encrypt_boot=false: the key would not be used. "
            "Drop one of the two settings."
        )

    # Regions: --regions A,B,C (build in A, copy to B, C) or aws_region + aws_ami_regions.
    if options.regions is not None:
        for name in ("aws_region", "aws_ami_regions"):
            if name in out:
                raise SkyhubError(
                    f"--regions and --var {name} both set the AMI's regions: use one (--regions A,B,C builds "
                    "in A and copies to B and C)"
                )
        regions = parse_regions(options.regions)
    else:
        build_region = check_region(out.get("aws_region", "us-east-1"), "--var aws_region")
        copies = ami_regions_var(out.get("aws_ami_regions", ""))
        for name in copies:
            check_region(name, "--var aws_ami_regions")
        regions = [build_region, *copies]
        _no_duplicates(regions, "--var aws_region + aws_ami_regions")
    if public and dataset_region_list and regions[0] not in dataset_region_list:
        wanted = dataset_region_list[0]
        rest = ",".join(r for r in regions if r != wanted)
        suggestion = wanted + ("," + rest if rest else "")
        raise SkyhubError(
            f"a public image is built in its dataset's region first ({' or '.join(dataset_region_list)}, "
            f"where dataset_mount_datasets reads from), not {regions[0]}: use --regions {suggestion}"
        )

    # Deprecation date: given, or (public only) a default; checked against now and AWS's limits.
    given = options.deprecate_at if options.deprecate_at is not None else out.get("aws_deprecate_at", "")
    where = "--deprecate-at" if options.deprecate_at is not None else "--var aws_deprecate_at"
    if given.strip():
        when: datetime | None = parse_deprecate_at(given, where)
    elif public:
        when = (now + timedelta(days=PUBLIC_DEFAULT_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        when = None
    if when is not None:
        check_deprecate_at(when, now, public, where)

    if public and dirty and not options.allow_dirty:
        raise SkyhubError(
            "the working tree has uncommitted changes in the image's inputs (packer/ playbooks/ roles/ ...), "
            "so a public image could not name the commit it was built from: commit them, or pass "
            "--allow-dirty (the image is then tagged skyhub:git-dirty=true)"
        )

    out.update(
        aws_public="true" if public else "false",
        aws_encrypt_boot="true" if encrypt else "false",
        aws_region=regions[0],
        aws_ami_regions=json.dumps(regions[1:]),
        aws_deprecate_at=format_deprecate_at(when) if when else "",
    )
    return out


def check_account(regions: list[str], client=None) -> list[str]:
    """Before a public build (it takes most of an hour): refuse when an account setting in one of the
    image's regions would make publishing fail at the very end, where Packer deregisters the AMI.
    - EBS encryption by default: the volume, and so the AMI, comes out encrypted whatever the template
      says, and AWS cannot make it public.
    - Block public access for AMIs: AWS refuses the launch permission for all.
    Returns warnings for what could not be read (the build goes on). `client(region)` makes the EC2
    client (default: boto3's credential chain)."""
    if client is None:
        import boto3

        def client(region: str):
            return boto3.client("ec2", region_name=region)

    problems: list[str] = []
    warnings: list[str] = []
    for region in regions:
        ec2 = client(region)
        try:
            if ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
                problems.append(
                    f"{region} encrypts every new EBS volume by default (an account setting), so the image "
                    "would come out encrypted and AWS cannot make it public: publish from a region/account "
                    f"where `aws ec2 get-ebs-encryption-by-default --region {region}` says false, or turn it "
                    f"off for the build (`aws ec2 disable-ebs-encryption-by-default --region {region}`; it "
                    "applies to every new volume in the region, turn it back on afterwards)"
                )
        except Exception as exc:  # a probe: what it cannot read becomes a warning, the build decides
            warnings.append(f"{region}: could not read EBS encryption by default ({exc})")
        try:
            state = ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"]
            if state != "unblocked":
                problems.append(
                    f"{region} blocks public AMIs (block public access for AMIs: {state}): lift it with "
                    f"`aws ec2 disable-image-block-public-access --region {region}` (it takes up to 10 "
                    "minutes; `aws ec2 get-image-block-public-access-state` then says unblocked), build, "
                    "then turn it back on (aws ec2 enable-image-block-public-access "
                    "--image-block-public-access-state block-new-sharing)"
                )
        except Exception as exc:  # likewise (moto, the AWS stand-in in tests, lacks this call)
            warnings.append(f"{region}: could not read the block-public-access state for AMIs ({exc})")
    if problems:
        raise SkyhubError(
            "this account cannot publish the image yet (nothing was built):\n  - "
            + "\n  - ".join(problems)
            + "\nSee docs/publishing.md."
        )
    return warnings


def set_deprecation(amis: dict[str, str], deprecate_at: str) -> None:
    """Packer 1.6.6 cannot set deprecate_at: set it on each AMI (every region) with boto3 afterwards."""
    import boto3

    when = datetime.strptime(deprecate_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    for region, ami in amis.items():
        boto3.client("ec2", region_name=region).enable_image_deprecation(ImageId=ami, DeprecateAt=when)
        print(f"skyhub: {ami} ({region}) is deprecated from {deprecate_at}", flush=True)
