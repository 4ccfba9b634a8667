"""Where calls run: caller worker processes on this machine, or Ray actors on a cluster.

Every executor runs the same ``CallWorker`` (``worker.py``) in a process whose event
loop does nothing but media; finished calls travel back to the driver as
``FinishedCall`` records (small recording, compressed audio), and the driver alone
scores and writes the run folder.
"""
