"""Starts moto's server with DynamoDB requests taken one at a time.

Real DynamoDB runs each TransactWriteItems in isolation. moto's server
answers requests on many threads, and its transaction keeps a copy of the
table to put back when a condition fails: a transaction that fails while
another commits puts the table back over the other's write, which was
already answered as a success. Taking DynamoDB requests one at a time (as
the real service's isolation lets a client assume) keeps the emulator
faithful; the other services still answer on many threads.
"""
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _isolated(self):
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _isolated

if __name__ == "__main__":
    main(sys.argv[1:])
