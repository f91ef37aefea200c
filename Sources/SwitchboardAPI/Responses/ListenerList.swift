import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardHistory

struct ListenerList: Encodable { let listeners: [ListenerResponse] }
