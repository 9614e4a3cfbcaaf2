package ec2query

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeInto reads an operation's XML answer into a new T.
func decodeInto[T any](resp *smithyhttp.Response) (any, error) {
	v := new(T)
	if err := Decode(resp.Body, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Decode reads one EC2 XML answer (the <XResponse> element) into v, a
// pointer to one of this package's output types.
func Decode(r io.Reader, v any) error {
	if err := xml.NewDecoder(r).Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("decode EC2 response: empty body")
		}
		return fmt.Errorf("decode EC2 response: %w", err)
	}
	return nil
}

// errorResponse is EC2's error document:
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
type errorResponse struct {
	Code      string `xml:"Errors>Error>Code"`
	Message   string `xml:"Errors>Error>Message"`
	RequestID string `xml:"RequestID"`
}

// decodeError turns a non-2xx answer into a smithy.APIError with EC2's code
// and message (the HTTP status text when the body is not EC2's error
// document) and returns the request id it names.
func decodeError(r io.Reader, status int) (*smithy.GenericAPIError, string) {
	var er errorResponse
	_ = xml.NewDecoder(io.LimitReader(r, maxErrorBody)).Decode(&er)
	code, msg := strings.TrimSpace(er.Code), strings.TrimSpace(er.Message)
	if code == "" {
		code = strings.ReplaceAll(http.StatusText(status), " ", "")
		if code == "" {
			code = fmt.Sprintf("HTTP%d", status)
		}
	}
	fault := smithy.FaultClient
	if status >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}, strings.TrimSpace(er.RequestID)
}
