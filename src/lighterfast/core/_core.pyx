# cython: language_level=3, auto_pickle=False
"""Compiled core of lighterfast: Scale, CoiCache, WeightLimiter, OrderBook.

Behaviour is defined by the pure-Python twin `_core_py.py`; property tests require both to give
identical results (values, errors and messages) for the same operations.
"""

cimport cython
from cpython.bool cimport PyBool_Check
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Check, PyDict_GetItemWithError
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.list cimport PyList_Check
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DATA, PyUnicode_GET_LENGTH
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcmp, memmove
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import time
from decimal import Decimal

from lighterfast.protocol import MAX_BASE_AMOUNT, MAX_PRICE

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL

__all__ = ["CoiCache", "OrderBook", "Scale", "WeightLimiter", "order_book_market"]

cdef enum:
    MAX_DECIMALS = 18
    MAX_INT_DIGITS = 19  # more integer digits than this is above every wire maximum (< 2^63)
    EXP_CLAMP = 100000000  # exponents beyond this overflow or round to 0 anyway

cdef int64_t INT64_MAX_C = 9223372036854775807
cdef uint64_t MAX_PRICE_C = MAX_PRICE
cdef uint64_t MAX_BASE_AMOUNT_C = MAX_BASE_AMOUNT
# A delta's nonce advances by the engine events of one ~50 ms batch (tens live, §4.6); a larger
# step is a corrupt frame that would otherwise make every later delta look like a replay.
cdef int64_t MAX_BOOK_NONCE_STEP_C = 4294967296
MAX_BOOK_NONCE_STEP = 4294967296
cdef int64_t EXACT_DOUBLE_LIMIT = 4503599627370496  # 2**52: sums and differences stay exact
cdef object _INT64_MAX = 2**63 - 1
cdef object _DecimalStr = Decimal.__str__
cdef object _float_repr = float.__repr__
cdef object _monotonic = time.monotonic

cdef object K_PRICE = "price"
cdef object K_SIZE = "size"
cdef object K_NONCE = "nonce"
cdef object K_BEGIN_NONCE = "begin_nonce"
cdef object K_ASKS = "asks"
cdef object K_BIDS = "bids"
cdef object K_COI = "client_order_index"
cdef object K_STATUS = "status"
cdef object R_NEAREST = "nearest"
cdef object R_UP = "up"
cdef object R_DOWN = "down"

cdef double[19] POW10_D
cdef int64_t[19] POW10_I
cdef int _p
POW10_D[0] = 1.0
POW10_I[0] = 1
for _p in range(1, 19):
    POW10_I[_p] = POW10_I[_p - 1] * 10
    POW10_D[_p] = <double>POW10_I[_p]


include "_core_scale.pxi"
include "_core_coi.pxi"
include "_core_limiter.pxi"
include "_core_scan.pxi"
include "_core_book.pxi"
