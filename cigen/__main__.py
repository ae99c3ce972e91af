from __future__ import annotations

from cigen.main import main

main()
