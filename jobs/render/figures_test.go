package render

import (
	"strings"
	"testing"
)

func TestSMSFigures(t *testing.T) {
	var f SMSFigures
	if f.Mean() != 0 {
		t.Errorf("Mean of nothing = %v", f.Mean())
	}
	f.Add("en-US", "Anxin Finance: $1.00 is due. Reply STOP to opt out.") // 1 part, GSM-7
	f.Add("en-US", strings.Repeat("a", 161))                              // 2 parts, GSM-7
	f.Add("en-US", "INR 1.00 ₹")                                          // 1 part, UCS-2
	f.Add("zh-CN", "【安心金融】"+strings.Repeat("中", 130))                     // 136 units: 3 parts, UCS-2
	if f.Messages != 4 || f.Parts != 7 || f.Max != 3 || f.Mean() != 1.75 {
		t.Errorf("figures %+v, mean %v", f, f.Mean())
	}
	if f.ByParts[1] != 2 || f.ByParts[2] != 1 || f.ByParts[3] != 1 {
		t.Errorf("ByParts = %v", f.ByParts)
	}
	if f.ByLocale["en-US"][EncodingGSM7] != 2 || f.ByLocale["en-US"][EncodingUCS2] != 1 || f.ByLocale["zh-CN"][EncodingUCS2] != 1 {
		t.Errorf("ByLocale = %v", f.ByLocale)
	}
	var b strings.Builder
	f.Report(&b, 5)
	mustContain(t, b.String(), "4 SMS, mean 1.750, max 3; 7 billed parts = 1.400 per message of the run's 5",
		"  1 part(s):         2 SMS ( 50.0%)", "  3 part(s):         1 SMS ( 25.0%)",
		"encodings: en-US GSM-7 2; en-US UCS-2 1; zh-CN UCS-2 1")
}
