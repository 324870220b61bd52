"""The one seam every HTTP request of the core goes through (see :mod:`.base`)."""
