package rosgw

import (
	"reflect"
	"testing"

	"github.com/bluenviron/goroslib/v2/pkg/serviceproc"
)

// std_srvs/SetBool as ROS's Python packages define it.
const (
	setBoolMD5 = "09fb03525b03e7ea1fd3992bafd87e16"
	setBoolReq = "bool data # e.g. for hardware enabling / disabling\n"
	setBoolRes = "bool success   # indicate successful run of triggered service\nstring message # informational, e.g. for error messages\n\n"
)

func TestServiceSpec(t *testing.T) {
	s, err := ParseService("std_srvs/SetBool", setBoolReq, setBoolRes)
	if err != nil {
		t.Fatal(err)
	}
	if md5, err := s.MD5(); err != nil || md5 != setBoolMD5 {
		t.Fatalf("MD5 %s %v, want %s", md5, err, setBoolMD5)
	}
	ptr, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(ptr).Elem().Interface()
	if md5, err := serviceproc.MD5(v); err != nil || md5 != setBoolMD5 {
		t.Fatalf("goroslib's MD5 of the dynamic service: %s %v", md5, err)
	}
	if typ, err := serviceproc.Type(v); err != nil || typ != "std_srvs/SetBool" {
		t.Fatalf("goroslib's type of the dynamic service: %s %v", typ, err)
	}
	if _, err := ParseService("std_srvs/SetBool", "bool data\nnot a line at all x\n", setBoolRes); err == nil {
		t.Fatal("a malformed request definition parsed")
	}
}
