from nethelpers.cli import main

raise SystemExit(main())
