package config

import (
	"embed"
	"io/fs"
)

// templatesFS holds the built-in message templates:
// templates/<channel>/<stage>.<locale>.tmpl.
//
//go:embed templates
var templatesFS embed.FS

// DefaultTemplates returns the built-in templates rooted at the channel
// folders (sms/, email/): "sms/due_today.zh-CN.tmpl" and so on, for the
// stages upcoming_3d, due_today, overdue_1d, overdue_7d and overdue_30d in
// zh-CN and en-US.
func DefaultTemplates() fs.FS {
	sub, err := fs.Sub(templatesFS, "templates")
	if err != nil { // only for an invalid path, and "templates" is valid
		panic(err)
	}
	return sub
}
