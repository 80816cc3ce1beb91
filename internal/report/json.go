package report

import (
	"encoding/json"
	"io"

	"github.com/blackout-bgp/blackout/internal/event"
)

// WriteJSON writes one JSON object per event, one per line.
func WriteJSON(w io.Writer, events []*event.Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return nil
}
