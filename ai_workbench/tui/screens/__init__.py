"""Modal screens: confirmation, text input, feedback, help, pickers, error messages."""
