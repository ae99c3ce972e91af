"""Private git dependencies, as every place that fetches them sets SSH up (`private.git_hosts`):
the hosts' keys scanned into known_hosts (trust on first use: pin them in your own image where
that matters), and https URLs of those hosts rewritten to SSH. The schema allows only letters,
digits, - and . in a host, so nothing here needs quoting."""

from __future__ import annotations


def trust_commands(hosts: tuple[str, ...], ssh_dir: str) -> list[str]:
    """Shell commands, in order, for a user whose SSH folder is `ssh_dir`."""
    return [f"install -d -m 0700 {ssh_dir}",
            f"ssh-keyscan {' '.join(hosts)} >> {ssh_dir}/known_hosts",
            *(f"git config --global url.git@{h}:.insteadOf https://{h}/" for h in hosts)]
