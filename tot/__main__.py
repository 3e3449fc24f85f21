from tot.cli import main

raise SystemExit(main())
