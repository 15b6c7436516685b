"""``python -m persian_ie`` = the ``persian-ie`` command."""

from persian_ie.cli import main

raise SystemExit(main())
