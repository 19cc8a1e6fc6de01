"""Write the folder `datasette publish fly` deploys (`make deploy-dir`), or deploy it (`make publish`).

    .venv/bin/python scripts/deploy_dir.py DIR [--db imu.db] [--app NAME] [--deploy]

The folder holds the database, metadata, plugins, templates, settings and a Dockerfile
(`datasette publish fly --generate-dir`). The plugins import the project's own modules
(labels, dates, fold, schema), so a wheel of the project rides in the plugins folder and
the Dockerfile installs it, which also pins Datasette and its plugins to pyproject.toml's
versions, and the release package of the database rides in dist/. The version and the
records' date travel inside imu.db (its dataset_info table),
so the deployed site shows them without git history to read. The metadata turns on
content-hashed URLs (plugins/hashed.py), since a published site sits behind a CDN, and
gzip, since nothing else in front of it compresses.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

import release  # the release package the site offers for download
from serve_prod import settings  # settings.json as `--setting` options, as make serve passes them

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--db", type=Path, default=ROOT / "imu.db")
    ap.add_argument("--app", default="imu-dataset", help="the Fly app's name")
    ap.add_argument("--deploy", action="store_true",
                    help="deploy to Fly (needs flyctl, logged in) instead of writing DIR")
    args = ap.parse_args(argv)
    if args.dir.exists() and not args.deploy:
        shutil.rmtree(args.dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plugins = tmp / "plugins"
        shutil.copytree(ROOT / "plugins", plugins, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([str(BIN / "python"), "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(plugins),
                        str(ROOT)], check=True)
        wheel = next(plugins.glob("imu_dataset-*.whl")).name
        metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
        metadata.setdefault("plugins", {}).setdefault("imu", {}).update(
            hashed_urls=True, compress=True, client_ip_header="Fly-Client-IP")  # set by Fly's proxy
        (tmp / "metadata.yml").write_text(yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False))
        db = tmp / "imu.db"
        shutil.copy(args.db, db)
        # The release of this database, which the site offers (plugins/pages.py): in dist/
        # beside the database, carried as a static folder so that a direct deploy takes it too.
        made = release.build(db, tmp / "release", check=False)
        (tmp / "dist").mkdir()
        shutil.copy(made.parent / f"{made.name}.zip", tmp / "dist")
        where = [] if args.deploy else ["--generate-dir", str(args.dir.resolve())]
        done = subprocess.run([str(BIN / "datasette"), "publish", "fly", str(db), "--app", args.app, *where,
                               "-m", str(tmp / "metadata.yml"), "--plugins-dir", str(plugins),
                               "--template-dir", str(ROOT / "templates"), "--install", f"plugins/{wheel}",
                               "--static", f"dist:{tmp / 'dist'}",
                               # Fly serves HTTPS in front: links the site writes say https
                               *settings(), "--setting", "force_https_urls", "1"], cwd=tmp)
    if done.returncode:
        return done.returncode
    print(f"deployed https://{args.app}.fly.dev/" if args.deploy else f"wrote {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
