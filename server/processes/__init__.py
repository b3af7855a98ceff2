"""Child processes and threads the service starts itself: a private Redis, uvicorn in a thread."""
