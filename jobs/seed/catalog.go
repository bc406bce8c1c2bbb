package seed

import "strings"

// The countries a borrower can live in.
const (
	countryCN = iota
	countryUS
	countryDE
	countryGB
	countryIN
	countryNP
	numCountries
)

// name is one name part: as written, and as it may appear in an e-mail
// address (pinyin for Chinese, ASCII for the others).
type name struct{ text, ascii string }

// region is one ISO 3166-2 subdivision with its IANA zone and, where the
// number says where it is from, the prefixes of its phone numbers (US area
// codes).
type region struct {
	code   string
	zone   string
	weight int
	areas  []string
}

// mobile is a range of mobile numbers: the national prefix and how many
// digits follow it. Every number in the range is valid for
// nyaruka/phonenumbers (the tests check a sample).
type mobile struct {
	prefix string
	digits int
}

// country is what the generator knows about borrowers of one country.
type country struct {
	iso           string // ISO 3166-1 alpha-2, also the holiday region
	callingCode   string
	currency      string
	altCurrency   string // the second currency of a multi-currency borrower
	weight        int    // per mille of borrowers
	locales       []string
	localeWeights []int
	regions       []region
	regionWeights []int
	mobiles       []mobile // empty: numbers come from the regions' area codes
	nullZonePM    int      // per mille of borrowers without a time zone
	amountLo      int64    // installment amount range, minor units
	amountHi      int64
	given         []name
	family        []name
	familyFirst   bool // Chinese order: family name first, no space
}

// catalog holds the generator's fixed lists. It is built once per Generate
// or Run from the literals below, so that the package has no mutable
// globals.
type catalog struct {
	countries      [numCountries]country
	countryWeights []int
	invalidZones   []string
	invalidPhones  []string
	invalidEmails  []string
	emailDomains   []string
}

func names(s string) []name {
	fields := strings.Fields(s)
	out := make([]name, len(fields))
	for i, f := range fields {
		text, ascii, ok := strings.Cut(f, ":")
		if !ok {
			ascii = strings.ToLower(text)
		}
		out[i] = name{text: text, ascii: ascii}
	}
	return out
}

func mobiles(digits int, prefixes ...string) []mobile {
	out := make([]mobile, len(prefixes))
	for i, p := range prefixes {
		out[i] = mobile{prefix: p, digits: digits}
	}
	return out
}

func newCatalog() *catalog {
	c := &catalog{
		// Names that are not IANA zones; time.LoadLocation rejects each.
		invalidZones: []string{"Mars/Olympus", "EST5", "Asia/Shang hai", "Beijing", "GMT+8"},
		// Numbers no parser accepts as valid.
		invalidPhones: []string{"12345", "+86 000", "call me", "138-0013", "+1 212 55", "n/a", "+44 0"},
		invalidEmails: []string{"no-at-sign", "zhang wei@example.com", "user@", "@example.com", "user@localhost"},
		// RFC 2606 domains: no real mailbox ever receives a seeded address.
		emailDomains: []string{"example.com", "example.net", "example.org"},
	}
	c.countries[countryCN] = country{
		iso: "CN", callingCode: "86", currency: "CNY", altCurrency: "USD", weight: 700,
		locales: []string{"zh-CN"}, localeWeights: []int{1},
		regions: []region{
			{code: "CN-44", zone: "Asia/Shanghai", weight: 12}, // Guangdong
			{code: "CN-37", zone: "Asia/Shanghai", weight: 7},  // Shandong
			{code: "CN-41", zone: "Asia/Shanghai", weight: 7},  // Henan
			{code: "CN-32", zone: "Asia/Shanghai", weight: 6},  // Jiangsu
			{code: "CN-51", zone: "Asia/Shanghai", weight: 6},  // Sichuan
			{code: "CN-33", zone: "Asia/Shanghai", weight: 5},  // Zhejiang
			{code: "CN-31", zone: "Asia/Shanghai", weight: 6},  // Shanghai
			{code: "CN-11", zone: "Asia/Shanghai", weight: 5},  // Beijing
			{code: "CN-42", zone: "Asia/Shanghai", weight: 4},  // Hubei
			{code: "CN-43", zone: "Asia/Shanghai", weight: 4},  // Hunan
			{code: "CN-35", zone: "Asia/Shanghai", weight: 3},  // Fujian
			{code: "CN-61", zone: "Asia/Shanghai", weight: 3},  // Shaanxi
			{code: "CN-50", zone: "Asia/Shanghai", weight: 2},  // Chongqing
			{code: "CN-12", zone: "Asia/Shanghai", weight: 1},  // Tianjin
			// Xinjiang: officially Beijing time, locally often Urumqi time
			// (UTC+6); see zoneFor.
			{code: "CN-65", zone: "Asia/Shanghai", weight: 1},
		},
		mobiles: mobiles(8, "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
			"150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "176", "177",
			"180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "198", "199"),
		nullZonePM: 200,
		amountLo:   50000, amountHi: 500000, // ¥500.00–¥5,000.00
		family: names("王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou " +
			"徐:xu 孙:sun 马:ma 朱:zhu 胡:hu 郭:guo 何:he 高:gao 林:lin 罗:luo 郑:zheng 梁:liang 谢:xie " +
			"宋:song 唐:tang 许:xu 韩:han 冯:feng 邓:deng 曹:cao 彭:peng 曾:zeng 肖:xiao 田:tian 董:dong " +
			"袁:yuan 潘:pan 于:yu 蒋:jiang 蔡:cai 余:yu 杜:du 叶:ye 程:cheng 苏:su 魏:wei 吕:lyu 丁:ding " +
			"任:ren 沈:shen 欧阳:ouyang 司马:sima"),
		given: names("伟:wei 芳:fang 娜:na 秀英:xiuying 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun " +
			"洋:yang 勇:yong 艳:yan 杰:jie 娟:juan 涛:tao 明:ming 超:chao 秀兰:xiulan 霞:xia 平:ping " +
			"刚:gang 桂英:guiying 建华:jianhua 志强:zhiqiang 晓明:xiaoming 婷:ting 浩:hao 宇轩:yuxuan " +
			"子涵:zihan 欣怡:xinyi 梓萱:zixuan 俊杰:junjie 雨桐:yutong 思远:siyuan 海燕:haiyan 文博:wenbo " +
			"嘉怡:jiayi 一诺:yinuo 国庆:guoqing 春梅:chunmei 建国:jianguo 玉兰:yulan 德华:dehua 佳琪:jiaqi " +
			"浩然:haoran 诗涵:shihan 子轩:zixuan 雪:xue 鹏:peng"),
		familyFirst: true,
	}
	c.countries[countryUS] = country{
		iso: "US", callingCode: "1", currency: "USD", altCurrency: "CNY", weight: 160,
		locales: []string{"en-US"}, localeWeights: []int{1},
		regions: []region{
			{code: "US-NY", zone: "America/New_York", weight: 20, areas: []string{"212", "646", "718", "917", "347", "516"}},
			{code: "US-CA", zone: "America/Los_Angeles", weight: 22, areas: []string{"213", "310", "415", "408", "619", "714", "916"}},
			{code: "US-TX", zone: "America/Chicago", weight: 18, areas: []string{"713", "214", "512", "210", "817"}},
			{code: "US-FL", zone: "America/New_York", weight: 15, areas: []string{"305", "786", "407", "813", "904", "954", "561"}},
			{code: "US-IL", zone: "America/Chicago", weight: 10, areas: []string{"312", "773", "630"}},
			{code: "US-CO", zone: "America/Denver", weight: 7, areas: []string{"303", "720", "719"}},
			{code: "US-AZ", zone: "America/Phoenix", weight: 8, areas: []string{"602", "480", "520"}},
		},
		nullZonePM: 100,
		amountLo:   5000, amountHi: 150000, // $50.00–$1,500.00
		given: names("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William " +
			"Barbara Richard Susan Joseph Jessica Thomas Sarah Carlos:carlos María:maria José:jose " +
			"Sofia Emily Daniel Aaliyah DeShawn:deshawn Wei Priya Nguyen Ashley Tyler"),
		family: names("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez " +
			"Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Nguyen " +
			"Chen O'Brien:obrien Washington Kim Patel"),
	}
	c.countries[countryDE] = country{
		iso: "DE", callingCode: "49", currency: "EUR", altCurrency: "GBP", weight: 40,
		locales: []string{"de-DE", "en-US"}, localeWeights: []int{7, 3},
		regions: []region{
			{code: "DE-BE", zone: "Europe/Berlin", weight: 40}, // Berlin
			{code: "DE-BY", zone: "Europe/Berlin", weight: 30}, // Bavaria
			{code: "DE-HH", zone: "Europe/Berlin", weight: 15}, // Hamburg
			{code: "DE-NW", zone: "Europe/Berlin", weight: 15}, // North Rhine-Westphalia
		},
		mobiles: append(mobiles(8, "151", "152", "157", "159", "176", "177", "178", "179"),
			mobiles(7, "160", "170", "171", "172", "175")...),
		nullZonePM: 50,
		amountLo:   5000, amountHi: 100000,
		given: names("Lukas Anna Maximilian Sophie Jürgen:juergen Björn:bjoern Lena Felix Marie Jonas " +
			"Hannah Paul Leonie Elias Mia"),
		family: names("Müller:mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz " +
			"Hoffmann Groß:gross Koch Richter Klein Wolf Yılmaz:yilmaz"),
	}
	c.countries[countryGB] = country{
		iso: "GB", callingCode: "44", currency: "GBP", altCurrency: "EUR", weight: 30,
		locales: []string{"en-US"}, localeWeights: []int{1},
		regions: []region{
			{code: "GB-LND", zone: "Europe/London", weight: 50}, // London
			{code: "GB-MAN", zone: "Europe/London", weight: 20}, // Manchester
			{code: "GB-BIR", zone: "Europe/London", weight: 15}, // Birmingham
			{code: "GB-EDH", zone: "Europe/London", weight: 15}, // Edinburgh
		},
		mobiles:    mobiles(8, "74", "75", "78"),
		nullZonePM: 50,
		amountLo:   5000, amountHi: 80000,
		given: names("Oliver Amelia George Isla Harry Ava Jack Emily Charlotte Thomas Noah Olivia " +
			"Muhammad Freya Siobhán:siobhan"),
		family: names("Smith Jones Taylor Brown Williams Wilson Evans Davies Patel O'Connor:oconnor " +
			"Khan Roberts Walker Wright Thompson"),
	}
	c.countries[countryIN] = country{
		iso: "IN", callingCode: "91", currency: "INR", altCurrency: "USD", weight: 40,
		locales: []string{"en-US"}, localeWeights: []int{1},
		regions: []region{
			{code: "IN-MH", zone: "Asia/Kolkata", weight: 40}, // Maharashtra
			{code: "IN-KA", zone: "Asia/Kolkata", weight: 25}, // Karnataka
			{code: "IN-DL", zone: "Asia/Kolkata", weight: 20}, // Delhi
			{code: "IN-TN", zone: "Asia/Kolkata", weight: 15}, // Tamil Nadu
		},
		mobiles:    mobiles(8, "98", "99", "97", "91", "90"), // +91 9xxxxxxxxx
		nullZonePM: 50,
		amountLo:   100000, amountHi: 2500000, // ₹1,000–₹25,000
		given:  names("Aarav Priya Rohan Ananya Vikram Sneha Rahul Pooja Arjun Kavya Aditya Isha"),
		family: names("Sharma Patel Singh Kumar Gupta Reddy Iyer Nair Desai Joshi Mehta Banerjee"),
	}
	c.countries[countryNP] = country{
		iso: "NP", callingCode: "977", currency: "NPR", altCurrency: "INR", weight: 30,
		locales: []string{"en-US", "ne-NP"}, localeWeights: []int{8, 2},
		regions: []region{
			{code: "NP-P3", zone: "Asia/Kathmandu", weight: 60}, // Bagmati
			{code: "NP-P4", zone: "Asia/Kathmandu", weight: 25}, // Gandaki
			{code: "NP-P1", zone: "Asia/Kathmandu", weight: 15}, // Koshi
		},
		mobiles:    mobiles(7, "984", "985", "986", "980", "981", "982"), // +977 98xxxxxxxx
		nullZonePM: 50,
		amountLo:   150000, amountHi: 3000000, // रू1,500–रू30,000
		given:  names("Aayush Sita Bikash Sunita Prakash Anjali Ramesh Gita Suman Binita"),
		family: names("Shrestha Gurung Tamang Thapa Rai Magar Adhikari Karki Sharma Bhattarai"),
	}
	c.countryWeights = make([]int, numCountries)
	for i := range c.countries {
		ctry := &c.countries[i]
		c.countryWeights[i] = ctry.weight
		for _, r := range ctry.regions {
			ctry.regionWeights = append(ctry.regionWeights, r.weight)
		}
	}
	return c
}
