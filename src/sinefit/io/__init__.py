"""Everything that touches disk or matplotlib: run directories, model files, figures."""
