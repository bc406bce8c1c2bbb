package config

// TwilioOptions are the twilio provider's keys.
type TwilioOptions struct{}

// TencentCloudOptions are the tencentcloud provider's keys.
type TencentCloudOptions struct{}

// SMTPOptions are the smtp provider's keys.
type SMTPOptions struct{}
