"""The `swell-operator` command: `kopf run` of our handlers, standalone, with a liveness probe."""

from __future__ import annotations

import argparse
import os
import sys

from kopf import cli


def kopf_args(argv: list[str] | None = None, env: dict[str, str] | None = None) -> list[str]:
    """The `kopf run` command line for our arguments and environment (pure, for tests)."""
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(prog="swell-operator",
                                     description="Autoscale swell workers on queue backlog (JobQueue).")
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="serve JobQueues in this namespace (repeatable; globs allowed)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="serve every namespace")
    parser.add_argument("--liveness", default=None,
                        help="liveness URL (default http://0.0.0.0:$SWELL_HEALTH_PORT/healthz, port 8080)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("-d", "--debug", action="store_true")
    args, extra = parser.parse_known_args(argv)
    port = env.get("SWELL_HEALTH_PORT", "8080")
    liveness = args.liveness or f"http://0.0.0.0:{port}/healthz"
    out = ["run", "--standalone", f"--liveness={liveness}"]
    if args.all_namespaces:
        out.append("--all-namespaces")
    else:
        namespaces = args.namespace or [n for n in env.get("SWELL_WATCH_NAMESPACES", "").split(",") if n]
        if not namespaces:
            namespaces = [env.get("SWELL_OPERATOR_NAMESPACE") or "default"]
        out += [f"--namespace={n}" for n in namespaces]
    level = env.get("SWELL_LOG_LEVEL", "").upper()
    if args.debug or level == "DEBUG":
        out.append("--debug")
    elif args.verbose:
        out.append("--verbose")
    elif level in ("WARNING", "ERROR", "CRITICAL"):
        out.append("--quiet")
    return [*out, *extra, "-m", "swell_operator.handlers"]


def main(argv: list[str] | None = None) -> None:
    cli.main(args=kopf_args(sys.argv[1:] if argv is None else argv), prog_name="swell-operator")


if __name__ == "__main__":
    main()
