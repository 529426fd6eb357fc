"""Models the project builds itself: this machine never downloads weights."""
