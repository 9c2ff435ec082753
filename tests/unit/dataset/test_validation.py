"""The dataset_mount preflight rules (roles/dataset_mount/filter_plugins) and the argv they lead to."""

from __future__ import annotations

import pytest

GOOD = {"name": "hst", "bucket": "stpubdata", "prefix": "hst/public/"}
SETTINGS = {
    "root": "/srv/skyhub/data",
    "uid": 1000,
    "gid": 1000,
    "umask": "0022",
    "parallel_count": 8,
    "multipart_size_mb": 32,
    "stat_cache_expire": 60,
    "connect_timeout": 5,
    "readwrite_timeout": 30,
    "retries": 2,
    "cache_root": "/var/cache/skyhub/datasets",
    "ensure_diskfree_mb": 1024,
}


def test_default_style_entry_is_valid(dm_filters):
    assert dm_filters.dataset_mount_problems([GOOD]) == []
    assert dm_filters.dataset_mount_problems([{**GOOD, "prefix": "", "client": "mountpoint"}]) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"bucket": "Bad_Bucket"}, "bucket is not a valid S3 bucket name"),
        ({"bucket": "ab"}, "bucket is not a valid S3 bucket name"),
        ({"bucket": "my..bucket"}, "no '..'"),
        ({"bucket": "192.168.1.10"}, "not an IP address"),
        ({"prefix": "hst/public"}, 'prefix must be empty or a key prefix ending in "/"'),
        ({"prefix": "/hst/public/"}, "without a leading"),
        ({"client": "goofys"}, "client must be one of s3fs, mountpoint"),
        ({"name": "Has Space"}, "name must be 1-32 of"),
        ({"region": "mars"}, "region must be a region like us-east-1"),
        ({"endpoint_url": "localhost:9000"}, "endpoint_url must be empty (AWS) or an http(s):// URL"),
        ({"anonymous": "yes"}, "anonymous must be true or false"),
        ({"cache_size_mb": -1}, "cache_size_mb must be an integer >= 0"),
        ({"options": ["ro,rw"]}, "options must be a list of client options"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_bad_entry_is_named(dm_filters, change, expected):
    problems = dm_filters.dataset_mount_problems([{**GOOD, **change}])
    assert len(problems) == 1, problems
    assert problems[0].startswith("dataset_mount_datasets[0] (")
    assert expected in problems[0]


def test_missing_required_and_not_a_list(dm_filters):
    assert "'bucket' is required" in dm_filters.dataset_mount_problems([{"name": "x1"}])[0]
    assert dm_filters.dataset_mount_problems({"name": "hst"}) == [
        "dataset_mount_datasets must be a list of datasets ({name, bucket, prefix, ...})"
    ]
    assert "must be a mapping" in dm_filters.dataset_mount_problems(["hst"])[0]


def test_duplicate_names(dm_filters):
    problems = dm_filters.dataset_mount_problems([GOOD, {**GOOD, "bucket": "other-bucket"}])
    assert problems == ["dataset_mount_datasets: duplicate name(s) hst; names must be unique"]


def test_s3fs_argv_for_the_local_twin(dm_filters):
    ds = dm_filters.dataset_mount_normalize([{**GOOD, "endpoint_url": "http://127.0.0.1:9000/"}])[0]
    argv = dm_filters.dataset_mount_argv(ds, SETTINGS)
    assert argv[:5] == ["s3fs", "stpubdata:/hst/public", "/srv/skyhub/data/hst", "-f", "-o"]
    opts = argv[5].split(",")
    for opt in (
        "ro",
        "allow_other",
        "public_bucket=1",
        "use_path_request_style",
        "url=http://127.0.0.1:9000",
        "parallel_count=8",
        "multipart_size=32",
        "uid=1000",
        "gid=1000",
        "nonempty",
        "ensure_diskfree=1024",
    ):
        assert opt in opts
    assert not any(o.startswith("use_cache") for o in opts)


def test_s3fs_argv_on_aws_with_instance_role_and_cache(dm_filters):
    ds = dm_filters.dataset_mount_normalize(
        [
            {
                "name": "jwst",
                "bucket": "stpubdata",
                "prefix": "jwst/public/",
                "anonymous": False,
                "cache_size_mb": 2048,
                "options": ["max_stat_cache_size=200000"],
            }
        ]
    )[0]
    opts = dm_filters.dataset_mount_argv(ds, SETTINGS)[5].split(",")
    assert "iam_role=auto" in opts and "public_bucket=1" not in opts
    assert "url=https://s3.us-east-1.amazonaws.com" in opts
    assert "use_path_request_style" not in opts
    assert "use_cache=/var/cache/skyhub/datasets/jwst" in opts
    # the cache is bounded by free space too, not only by the health check's trim
    assert "ensure_diskfree=1024" in opts
    assert opts[-1] == "max_stat_cache_size=200000"


def test_whole_bucket_and_mountpoint_client(dm_filters):
    ds = dm_filters.dataset_mount_normalize([{"name": "all", "bucket": "stpubdata"}])[0]
    assert dm_filters.dataset_mount_argv(ds, SETTINGS)[1] == "stpubdata"
    mp = dm_filters.dataset_mount_normalize([{**GOOD, "client": "mountpoint", "endpoint_url": "http://h:1"}])[
        0
    ]
    argv = dm_filters.dataset_mount_argv(mp, SETTINGS)
    assert argv[:3] == ["mount-s3", "stpubdata", "/srv/skyhub/data/hst"]
    for arg in (
        "--read-only",
        "--allow-other",
        "--prefix=hst/public/",
        "--no-sign-request",
        "--endpoint-url=http://h:1",
        "--force-path-style",
        "--foreground",
    ):
        assert arg in argv
