"""`python -m ai_workbench` runs the aiw CLI."""

from ai_workbench.cli.main import main

if __name__ == "__main__":
    main()
