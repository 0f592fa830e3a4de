"""pyzmp's message classes: namedtuples pickled under pyzmp.message."""
import collections

ServiceRequest = collections.namedtuple("ServiceRequest", "service args kwargs")
ServiceResponse = collections.namedtuple("ServiceResponse", "service response exception")
ServiceException = collections.namedtuple("ServiceException", "exc_type exc_value traceback")

for _cls in (ServiceRequest, ServiceResponse, ServiceException):
    _cls.__new__.__defaults__ = (None,) * len(_cls._fields)
