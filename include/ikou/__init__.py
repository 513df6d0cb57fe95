"""Ikou (移行): the library behind the migration DAGs.

Everything here is a plain, tested function: the DAGs in ``dags/`` only wire these together.
Heavy dependencies (pandas, pyarrow, GX, boto3) are imported inside the functions that need
them, so that importing ``ikou`` (and parsing a DAG file) stays cheap.
"""

__version__ = "0.1.0"
