"""How the local runs print: numbered steps, headings and indented blocks."""

from __future__ import annotations

import itertools

_steps = itertools.count(1)


def step(text: str) -> None:
    print(f"{next(_steps)}. {text}")


def heading(text: str) -> None:
    print(f"\n=== {text} ===\n")


def indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())


def save_charts(bucket: str, directory: str = "out/charts") -> list[str]:
    """Copy the charts the stack drew beside its summaries (in the emulated S3) into `directory` of the checkout,
    and print where each is: a person opens them as the alert's link would."""
    from pathlib import Path

    import boto3

    s3 = boto3.client("s3")
    saved = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".summary.png"):
                target = Path(directory) / item["Key"].replace("/", "__")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                saved.append(str(target))
    for path in saved:
        print(f"Chart drawn beside the summary, saved to {path}")
    return saved
