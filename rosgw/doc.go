// Package rosgw bridges a ROS 1 graph into the pyros mesh. This part builds
// ROS message types at run time from their definitions, so the gateway handles
// any message type, including types it was not compiled with: ParseDefinition
// reads a full definition as ROS transmits it into a MsgSpec, MsgSpec.GoType
// turns that into a Go struct type (via reflect.StructOf) that goroslib's
// msgproc and protocommon accept for MD5, naming and (de)serialization, and
// ToMap and FromMap convert such messages to and from plain maps keyed by ROS
// field names. Other parts of the gateway build on these.
package rosgw
