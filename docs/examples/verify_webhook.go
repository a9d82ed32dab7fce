// Verifies a trackd webhook (Standard Webhooks, `v1` HMAC-SHA256) with Go's standard library.
//
//	go run verify_webhook.go <secret> <webhook-id> <webhook-timestamp> <webhook-signature> < body
//
// The body is read from stdin as raw bytes: verify exactly what arrived, before any
// JSON parsing. Exit status: 0 valid, 1 invalid, 2 usage. WEBHOOK_TOLERANCE_SECONDS
// sets how far webhook-timestamp may be from now (default 300; 0 turns the check off,
// for old test vectors only).
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const toleranceSeconds = 5 * 60

// Verify reports whether one `v1,` signature in the header signs `{id}.{timestamp}.{body}` with the secret.
func Verify(secret, webhookID, timestamp, signatureHeader string, body []byte, tolerance time.Duration, now time.Time) bool {
	if timestamp == "" || strings.Trim(timestamp, "0123456789") != "" {
		return false
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if age := now.Sub(time.Unix(ts, 0)); tolerance > 0 && (age > tolerance || age < -tolerance) {
		return false // too old or too new: a replayed or delayed request
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(webhookID + "." + timestamp + "."))
	mac.Write(body)
	expected := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for _, entry := range strings.Split(signatureHeader, " ") { // two entries during a key rotation
		version, signature, found := strings.Cut(entry, ",")
		if found && version == "v1" && hmac.Equal([]byte(signature), expected) {
			return true
		}
	}
	return false
}

// Handle is what a receiver does with one request: "invalid" (answer 400), "duplicate" or
// "process" (answer 2xx). seen holds the webhook-ids already processed. Retries and replays
// resend an event with the same webhook-id, so keep them at least as long as the retry
// schedule (about 3 days), in the same transaction as the processing.
func Handle(secret string, headers map[string]string, body []byte, seen map[string]bool, tolerance time.Duration) string {
	webhookID := headers["webhook-id"]
	if !Verify(secret, webhookID, headers["webhook-timestamp"], headers["webhook-signature"], body, tolerance, time.Now()) {
		return "invalid"
	}
	if seen[webhookID] {
		return "duplicate"
	}
	seen[webhookID] = true
	return "process"
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: go run verify_webhook.go <secret> <webhook-id> <webhook-timestamp> <webhook-signature> < body")
		os.Exit(2)
	}
	tolerance := toleranceSeconds
	if raw, ok := os.LookupEnv("WEBHOOK_TOLERANCE_SECONDS"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			fmt.Fprintln(os.Stderr, "WEBHOOK_TOLERANCE_SECONDS must be a whole number of seconds")
			os.Exit(2)
		}
		tolerance = n
	}
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the body:", err)
		os.Exit(2)
	}
	headers := map[string]string{
		"webhook-id":        os.Args[2],
		"webhook-timestamp": os.Args[3],
		"webhook-signature": os.Args[4],
	}
	outcome := Handle(os.Args[1], headers, body, map[string]bool{}, time.Duration(tolerance)*time.Second)
	if outcome != "process" {
		fmt.Println(outcome)
		os.Exit(1)
	}
	fmt.Println("valid")
}
