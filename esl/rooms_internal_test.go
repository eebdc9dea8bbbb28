package esl

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A `conference xml_list` body as conference_xlist builds it (member
// values URL-encoded), with a recording node and a hostile caller name.
const xmlListSeed = `<?xml version="1.0"?>
<conferences>
  <conference name="vnum-room-1" member-count="2" ghost-count="0" rate="8000" uuid="5c114c78-4b7f-4ad3-a3e3-6af1f9246f0f" running="true" run_time="5">
    <members>
      <member type="caller"><id>2</id><uuid>23057700-51c1-41e3-b8de-e1df6721dd52</uuid><caller_id_name>Mallory%0A%3Cuuid%3Ebad%3C%2Fuuid%3E</caller_id_name><caller_id_number>1555</caller_id_number><flags><can_hear>true</can_hear></flags></member>
      <member type="caller"><id>1</id><uuid>f89f94dd-4bcd-43ef-bc9a-61a3ba850ac4</uuid><caller_id_name>A</caller_id_name></member>
      <member type="recording_node"><record_path>/tmp/x.wav</record_path></member>
    </members>
  </conference>
  <conference name="3000" member-count="0"><members/></conference>
  <conference name="bad name"><members><member type="caller"><uuid>x</uuid></member></members></conference>
</conferences>
`

func TestParseRooms(t *testing.T) {
	got, err := parseRooms(xmlListSeed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"23057700-51c1-41e3-b8de-e1df6721dd52", "f89f94dd-4bcd-43ef-bc9a-61a3ba850ac4"}
	if len(got) != 1 || !slices.Equal(got["vnum-room-1"], want) {
		t.Fatalf("rooms %v", got)
	}
	for _, empty := range []string{"", "<conferences/>", "No active conferences.\n", "<conferences></conferences>"} {
		if r, err := parseRooms(empty); err != nil || len(r) != 0 {
			t.Fatalf("%q: %v %v", empty, r, err)
		}
	}
	if _, err := parseRooms("<conferences><conference"); err == nil {
		t.Fatal("truncated XML accepted")
	}
}

func FuzzParseRooms(f *testing.F) {
	for _, s := range []string{xmlListSeed, "", "<conferences/>", "No active conferences.\n", "-ERR Conference x not found\n",
		"<conferences><conference name=\"a\"><members><member><uuid>%zz</uuid></member></members></conference></conferences>",
		"<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]><conferences/>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rooms, err := parseRooms(body)
		if err != nil {
			return
		}
		for name, uuids := range rooms {
			if !validID(name) {
				t.Fatalf("room name %q", name)
			}
			for _, u := range uuids {
				if !validID(u) {
					t.Fatalf("member %q", u)
				}
			}
		}
	})
}

// BenchmarkParseRooms: `conference xml_list` of 100 rooms of 3 members,
// as Live reads it on every reconciliation.
func BenchmarkParseRooms(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0"?>` + "\n<conferences>\n")
	for r := range 100 {
		fmt.Fprintf(&sb, `<conference name="vnum-room-%d" member-count="3" rate="8000"><members>`, r)
		for m := range 3 {
			fmt.Fprintf(&sb, `<member type="caller"><id>%d</id><uuid>%08d-51c1-41e3-b8de-e1df6721dd52</uuid>`+
				`<caller_id_name>Carrier%%20Caller</caller_id_name><caller_id_number>15550009999</caller_id_number>`+
				`<flags><can_hear>true</can_hear><can_speak>true</can_speak></flags></member>`, m+1, r*3+m)
		}
		sb.WriteString("</members></conference>\n")
	}
	sb.WriteString("</conferences>\n")
	body := sb.String()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rooms, err := parseRooms(body)
		if err != nil || len(rooms) != 100 {
			b.Fatal(len(rooms), err)
		}
	}
}
