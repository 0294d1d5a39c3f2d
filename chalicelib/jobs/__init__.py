"""Jobs: the task manager. A queue of jobs `{service, action, data, target}`, dispatched to
workers that live in their own services' folders, retried with backoff, results to the
job record and the owner's websockets."""
