"""What a run leaves on disk: the run folder, run.json and the (de)serialisation of records.

Runner, SLO gating, the reports and the pytest plugin all read and write through this
package; ``report`` only renders what is here.
"""
