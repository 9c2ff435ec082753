"""Dataset commands: seed a local S3 twin with demo FITS, check a mount against a manifest, benchmark."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skyhub.errors import SkyhubError


def _objects(prefix: str) -> list:
    try:
        from skyhub.dataset import fitsgen
    except ImportError as exc:  # astropy/numpy missing
        raise SkyhubError(f"seeding needs astropy and numpy ({exc}); run `make setup`") from exc
    return fitsgen.demo_objects(prefix)


def _seed(args: argparse.Namespace) -> int:
    from skyhub.dataset import seed

    seed.check_bucket_name(args.bucket)
    if not args.endpoint and not args.output:
        raise SkyhubError("give --endpoint URL (upload to an S3 twin) and/or --output DIR (write files)")
    if args.prefix and not args.prefix.endswith("/"):
        raise SkyhubError(f'--prefix must end with "/" (got {args.prefix!r})')
    objects = _objects(args.prefix)
    manifest_path = args.manifest or (
        args.output / f"{args.bucket}.manifest.json"
        if args.output
        else Path(f"build/dataset/{args.bucket}.manifest.json")
    )
    if args.output:
        seed.write_tree(args.output, args.bucket, objects)
        print(f"skyhub: wrote {len(objects)} FITS files under {args.output / args.bucket}")
    if args.endpoint:
        client = seed.s3_client(args.endpoint)
        try:
            created = seed.ensure_bucket(client, args.bucket)
            uploaded = seed.ensure_objects(client, args.bucket, objects)
        except Exception as exc:  # botocore's connection/client errors: a user-facing message
            if isinstance(exc, SkyhubError):
                raise
            raise SkyhubError(f"cannot seed {args.endpoint}: {exc}") from exc
        state = "created" if created else "exists"
        print(f"skyhub: bucket {args.bucket} {state}; uploaded {len(uploaded)} of {len(objects)} objects")
        for key in uploaded:
            print(f"  s3://{args.bucket}/{key}")
    seed.write_manifest(manifest_path, seed.build_manifest(args.bucket, objects))
    print(f"skyhub: manifest {manifest_path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from skyhub.dataset import seed

    manifest = seed.load_manifest(args.manifest)
    problems = seed.verify_tree(args.directory, manifest, args.strip_prefix)
    for problem in problems:
        print(f"skyhub: {problem}")
    if problems:
        raise SkyhubError(f"{len(problems)} file(s) under {args.directory} do not match {args.manifest}")
    print(f"skyhub: {len(manifest['objects'])} files under {args.directory} match {args.manifest}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from skyhub.dataset import bench, seed

    client = seed.s3_client(args.endpoint)
    if args.prepare:
        bench.prepare(client, args.bucket, args.size_mib, prefix=args.prefix)
    result = bench.run(client, args.bucket, args.mount, args.prefix, args.size_mib)
    print(json.dumps(result, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "seed", help="fill an S3 endpoint (the local twin) with small valid FITS files + manifest"
    )
    p.add_argument("--endpoint", help="S3 endpoint URL, e.g. http://127.0.0.1:9000 (the local twin)")
    p.add_argument("--bucket", default="stpubdata", help="bucket (default: stpubdata)")
    p.add_argument("--prefix", default="hst/public/", help='key prefix, ending in "/" (default: hst/public/)')
    p.add_argument(
        "--output", type=Path, help="also write the files as DIR/<bucket>/<key> (s3_twin_seed_src)"
    )
    p.add_argument("--manifest", type=Path, help="manifest path (default: DIR/<bucket>.manifest.json)")
    p.set_defaults(func=_seed)

    p = sub.add_parser("dataset-verify", help="check files under a directory (a mount) against a manifest")
    p.add_argument("directory", type=Path)
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--strip-prefix", default="hst/public/", help="key prefix the directory does not show")
    p.set_defaults(func=_verify)

    p = sub.add_parser(
        "dataset-bench", help="read speed through a mount vs a direct S3 GET; list 1,000 objects"
    )
    p.add_argument("--endpoint", required=True, help="the S3 endpoint the mount uses")
    p.add_argument("--bucket", default="stpubdata")
    p.add_argument("--mount", type=Path, required=True, help="the mount directory (showing bucket/prefix)")
    p.add_argument(
        "--prefix", default="", help="the prefix the mount shows; bench objects are <prefix>bench/..."
    )
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--prepare", action="store_true", help="upload the bench objects first (twin only)")
    p.set_defaults(func=_bench)
