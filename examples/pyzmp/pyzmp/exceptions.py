"""pyzmp's exceptions."""


class UnknownServiceException(Exception):
    pass


class UnknownResponseTypeException(Exception):
    pass
