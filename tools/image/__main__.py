"""``python -m tools.image build|lock``: see tools/image/build.py."""

from tools.image.build import main

raise SystemExit(main())
