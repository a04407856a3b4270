class StaleTask(Exception):
    """The card changed since the editor loaded it; nothing was written."""

    def __init__(self, current):
        super().__init__(f"task {current.pk} is at version {current.version}")
        self.current = current
